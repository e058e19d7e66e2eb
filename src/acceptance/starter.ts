import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { DurableClient } from 'durable-functions';
import { acceptanceInstanceId, AcceptanceInput, acceptanceOrchestration, startsAcceptance } from './contract';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { services } from '../composition/services';
import { FeedDocument } from '../app/projection';
import { currentTraceparent } from '../app/tracing';
import { StoredEventRecord } from '../ports/eventStore';

/** The library's own wording for an instance the extension does not know (DurableClient.getStatus). */
const isNotFound = (err: unknown) => err instanceof Error && /HTTP 404/.test(err.message);
/** The extension answers 409 when a Pending or Running instance already has the id (DurableClient.startNew). */
const isConflict = (err: unknown) => err instanceof Error && /status code: 409/.test(err.message);

const starting = new Map<string, Promise<void>>();

/**
 * Runs `start` for one instance id after any start of the same id in this worker has finished. The
 * check-then-start below is not atomic (the extension replaces a finished instance on start), so two
 * deliveries of the same event must not interleave; across workers the change feed's lease keeps one
 * consumer per partition (see docs/durable.md for the window a lease takeover leaves).
 */
function oneAtATime<T>(instanceId: string, start: () => Promise<T>): Promise<T> {
  const run = (starting.get(instanceId) ?? Promise.resolve()).then(start);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  starting.set(instanceId, tail);
  void tail.then(() => {
    if (starting.get(instanceId) === tail) starting.delete(instanceId);
  });
  return run;
}

/**
 * Starts the acceptance of every order submitted in `documents` (change-feed commit documents), once per
 * order: the instance id derives from the order id, and an instance that exists in any state (running,
 * finished, failed) means the order's acceptance was started already, so a second delivery of the same
 * OrderSubmitted starts nothing. `startNew` alone would not do: the extension replaces a finished instance.
 * @returns the instance ids started, and those found already there
 */
export async function startAcceptances(
  client: DurableClient,
  documents: FeedDocument[],
): Promise<{ started: string[]; existing: string[] }> {
  const started: string[] = [];
  const existing: string[] = [];
  for (const doc of documents) {
    if (doc.kind !== 'commit' || !Array.isArray(doc.e) || !doc.orderId) continue;
    const submitted = (doc.e as StoredEventRecord[]).find(startsAcceptance);
    if (!submitted) continue;
    const instanceId = acceptanceInstanceId(doc.orderId);
    // The trace the acceptance's activities continue: this batch's span, in the submit's trace (none when
    // telemetry is off). Carried in the input, so it reaches every activity whatever the host propagates.
    const traceparent = currentTraceparent();
    const input: AcceptanceInput = {
      orderId: doc.orderId,
      correlationId: submitted.metadata?.correlationId,
      ...(traceparent ? { traceparent } : {}),
    };
    const outcome = await oneAtATime(instanceId, () => startOnce(client, instanceId, input));
    (outcome === 'started' ? started : existing).push(instanceId);
  }
  return { started, existing };
}

async function startOnce(
  client: DurableClient,
  instanceId: string,
  input: AcceptanceInput,
): Promise<'started' | 'exists'> {
  try {
    await client.getStatus(instanceId, { showInput: false });
    return 'exists';
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await client.startNew(acceptanceOrchestration, { instanceId, input });
    return 'started';
  } catch (err) {
    if (!isConflict(err)) throw err;
    return 'exists';
  }
}

/**
 * Change feed → order acceptance: OrderSubmitted starts the `orderAcceptance` orchestration through the
 * durable client. Its own lease (prefix `acceptance-`), so it moves independently of the projection and
 * the Event Grid relay; `retry` makes a failed batch run again instead of being skipped.
 */
export const orderAcceptanceStarter = async (documents: unknown[], context: InvocationContext) => {
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const { started, existing } = await startAcceptances(
        df.getClient(context),
        documents as FeedDocument[],
      );
      if (started.length) context.info(`acceptance started: ${started.join(', ')}`);
      if (existing.length) context.debug(`acceptance already there: ${existing.join(', ')}`);
    },
    services().feedProgress,
  );
};
