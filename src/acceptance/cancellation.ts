import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { DurableClient } from 'durable-functions';
import { AcceptanceDeps, releaseCancelledOrder } from './activities';
import { acceptanceInstanceId, CancellationNotice, orderCancelledEvent } from './contract';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { FeedDocument } from '../app/projection';
import { StoredEventRecord } from '../ports/eventStore';
import { acceptanceDeps, services } from '../composition/services';

/** The library's own wording for an instance the extension does not know (DurableClient.getStatus). */
const isNotFound = (err: unknown) => err instanceof Error && /HTTP 404/.test(err.message);

/** The OrderCancelled events of change-feed commit documents, in feed order. */
export function cancellationsIn(documents: FeedDocument[]): CancellationNotice[] {
  const notices: CancellationNotice[] = [];
  for (const doc of documents) {
    if (doc.kind !== 'commit' || !Array.isArray(doc.e) || !doc.orderId || typeof doc.i !== 'number') continue;
    (doc.e as StoredEventRecord[]).forEach((e, k) => {
      if (e.type !== 'OrderCancelled') return;
      notices.push({
        orderId: doc.orderId as string,
        version: (doc.i as number) + k + 1,
        correlationId: e.metadata?.correlationId,
      });
    });
  }
  return notices;
}

/**
 * Tells the order's acceptance, when it is Pending or Running, that the order was cancelled (the
 * `orderCancelled` event; the orchestrator checks the order before acting on it).
 * @returns whether the event was raised
 */
async function tellAcceptance(client: DurableClient, notice: CancellationNotice): Promise<boolean> {
  const instanceId = acceptanceInstanceId(notice.orderId);
  let runtimeStatus: string;
  try {
    runtimeStatus = (await client.getStatus(instanceId, { showInput: false })).runtimeStatus as string;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  if (runtimeStatus !== 'Pending' && runtimeStatus !== 'Running') return false;
  // 410 (finished meanwhile) is a normal answer for the library: raiseEvent resolves.
  await client.raiseEvent(instanceId, orderCancelledEvent, {
    orderId: notice.orderId,
    version: notice.version,
  });
  return true;
}

/**
 * For every OrderCancelled in `documents` (change-feed commit documents): raises `orderCancelled` to the
 * order's acceptance if it still runs, so a wait for an approval ends at once, then releases every
 * reservation the order still holds (`releaseCancelledOrder`: stock store and StockReleased), so an order
 * cancelled after it was accepted gives its stock back. Idempotent: a second delivery raises an event the
 * finished acceptance no longer gets, and releases and appends nothing.
 * @returns the orders whose acceptance was told, and the products released per order
 */
export async function releaseCancelledOrders(
  client: DurableClient,
  deps: AcceptanceDeps,
  documents: FeedDocument[],
): Promise<{ told: string[]; released: Map<string, string[]> }> {
  const told: string[] = [];
  // By order id, a user-chosen key: on a `{}`, order `__proto__` would replace the prototype (issue 9).
  const released = new Map<string, string[]>();
  for (const notice of cancellationsIn(documents)) {
    if (await tellAcceptance(client, notice)) told.push(notice.orderId);
    const r = await releaseCancelledOrder(deps, notice);
    if (r.released.length)
      released.set(notice.orderId, [...(released.get(notice.orderId) ?? []), ...r.released]);
  }
  return { told, released };
}

/**
 * Change feed → stock release: OrderCancelled ends a running acceptance and returns the order's stock.
 * Its own lease (prefix `stockRelease-`); `retry` makes a failed batch run again. A new deployment reads
 * the feed from the beginning, which also releases the stock of orders cancelled before it existed.
 */
export const stockRelease = async (documents: unknown[], context: InvocationContext) => {
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const { told, released } = await releaseCancelledOrders(
        df.getClient(context),
        acceptanceDeps(),
        documents as FeedDocument[],
      );
      if (told.length) context.info(`acceptance told of the cancellation: ${told.join(', ')}`);
      for (const [orderId, products] of released) {
        context.info(`stock released for cancelled order ${orderId}: ${products.join(', ')}`);
      }
    },
    services().feedProgress,
  );
};
