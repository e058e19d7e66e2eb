import { BulkOperationType, Container, JSONObject, OperationInput } from '@azure/cosmos';
import { createHash } from 'node:crypto';
import {
  CustomerNotification,
  EventRef,
  GuardOutcome,
  NotificationStore,
  StockDemand,
  stockDemandOf,
  StockDemandStore,
} from '../../ports/consumers';
import { chargeOf, CosmosStoreError, explain, RequestChargeListener, statusOf } from './connection';

/**
 * Consumer state on Cosmos DB: what the Event Grid consumers remember so that a redelivered or late event
 * changes nothing (the port's rules: an event id this consumer processed is `duplicate`; an order version
 * below the highest this consumer saw for the order is `stale`; both are skipped atomically with the write
 * they guard).
 *
 * ## Documents
 * Every id derived from a caller's string is `<kind>.<SHA-256 hex>` of it (JSON of the parts), because Cosmos
 * DB ids may not contain `/`, `\`, `?` or `#` and hold at most 1,023 bytes
 * (https://learn.microsoft.com/azure/cosmos-db/concepts-limits#per-item-limits); the strings themselves are
 * kept as fields. No caller string is ever used as a key of a JavaScript object.
 *
 * `customerNotifications` container, partition key `/orderId` (one logical partition per order):
 * - `guard.<h(consumer, orderId)>`: {@link GuardDocument}, the highest order version the consumer saw;
 * - `inbox.<h(consumer, eventId)>`: {@link InboxDocument}, one per event the consumer processed;
 * - `notification.<h(eventId)>`: {@link NotificationDocument}, one per event (as the embedded store's key).
 *
 * `stockDemand` container, partition key `/productId` (one logical partition per product):
 * - `demand`: {@link DemandDocument}, units demanded and the available stock of the product;
 * - `guard.<h(consumer, orderId)>` and `inbox.<h(consumer, eventId)>` as above, in the product's partition.
 *
 * ## Atomicity: transactional batches, guarded by etags
 * A transactional batch runs all or nothing within one logical partition
 * (https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch), and every document a decision reads
 * is written back in the batch with `ifMatch` on the etag read (or created, which fails with 409 when another
 * writer created it first). So the decision (duplicate? stale?) and the write it guards commit together or not
 * at all; a lost race (412/409) is read again and decided again, at most {@link maxRounds} times. Conditional
 * single writes with a retry on 412 could not do this: the guard and the write are two documents.
 *
 * Stock demand needs the guard and the counter in one partition, but the guard is per order and the counter
 * per product. Both live in the product's partition: the inbox entry and the version guard of
 * (consumer, order) are kept once per product the order demands. Consequence, on purpose: the version guard
 * of stock demand is per (consumer, order, product). An older version of an order is stale for a product
 * that saw a newer version of that order, not for another product (the embedded store, with one guard per
 * (consumer, order), skips it there as well). The alternatives were worse: a guard in the order's partition
 * and the counter in the product's cannot commit together (a crash in between loses or doubles demand), and
 * one partition per consumer would cap the stock check at one logical partition's 20 GB and 10,000 RU/s
 * (https://learn.microsoft.com/azure/cosmos-db/partitioning-overview).
 *
 * Each round reads, then writes in the same order: the counter (stock demand), the guard, the inbox entry,
 * then the notification (a duplicate is found by the inbox read and costs no batch). Cosmos DB needs no
 * order; but @vercel/cosmosdb-server (the test server) applies a batch's operations one by one without
 * rollback, and since every applied event replaces the first document of its batch (the counter, or the
 * guard), a batch built on any outdated read then stops at its first operation, before writing anything.
 *
 * Request charges go to `onRequestCharge` as `notifications.*` and `stockDemand.*`.
 */
export class CosmosConsumerStores implements StockDemandStore, NotificationStore {
  private readonly notifications: Container;
  private readonly stockDemand: Container;

  /**
   * @param containers `notifications`: the `customerNotifications` container (partition key `/orderId`);
   *   `stockDemand`: the `stockDemand` container (partition key `/productId`); see src/adapters/cosmos/containers.ts
   */
  constructor(
    containers: { notifications: Container; stockDemand: Container },
    private readonly onRequestCharge: RequestChargeListener = () => {},
  ) {
    this.notifications = containers.notifications;
    this.stockDemand = containers.stockDemand;
  }

  /**
   * Adds `quantity` units to the product's demand, unless the event is a duplicate or stale for this
   * (consumer, order, product): one transactional batch in the product's partition.
   * @throws CosmosStoreError when Cosmos DB fails, or when {@link maxRounds} rounds all lost to concurrent writers
   */
  async addDemand(ref: EventRef, productId: string, quantity: number): Promise<GuardOutcome> {
    return this.guarded(this.stockDemand, 'stockDemand', { productId }, ref, async () => {
      const demand = await this.readDoc<DemandDocument>(this.stockDemand, 'stockDemand', demandId, productId);
      const next: DemandDocument = {
        id: demandId,
        kind: 'demand',
        productId,
        demanded: (demand?.demanded ?? 0) + quantity,
        ...(demand?.available !== undefined ? { available: demand.available } : {}),
      };
      return { before: [{ op: writeOf(demand, next), onConflict: 'retry' }], after: [] };
    });
  }

  /**
   * Sets the available stock of each product, keeping its demand (a conditional replace, or a create).
   * @throws CosmosStoreError when Cosmos DB fails or one product stays contended for {@link maxRounds} rounds
   */
  async setAvailable(levels: ReadonlyMap<string, number>): Promise<void> {
    const entries = [...levels];
    for (let start = 0; start < entries.length; start += setAvailableConcurrency) {
      await Promise.all(
        entries
          .slice(start, start + setAvailableConcurrency)
          .map(([productId, available]) => this.setOne(productId, available)),
      );
    }
  }

  /** @throws CosmosStoreError when the read fails */
  async get(productId: string): Promise<StockDemand | undefined> {
    const doc = await this.readDoc<DemandDocument>(this.stockDemand, 'stockDemand', demandId, productId);
    if (!doc) return undefined;
    return stockDemandOf(productId, doc.demanded, doc.available);
  }

  /**
   * Records the notification, unless the event is a duplicate or stale for this (consumer, order): one
   * transactional batch in the partition of `ref.orderId` (the order of the notification; the consumers pass
   * the same order in both), where `listForOrder` finds it.
   * @throws CosmosStoreError when Cosmos DB fails, when {@link maxRounds} rounds all lost to concurrent
   *   writers, or when a notification for this event id exists already from another consumer (one
   *   notification per event, as the embedded store's primary key has it)
   */
  async record(ref: EventRef, notification: CustomerNotification): Promise<GuardOutcome> {
    const doc: NotificationDocument = {
      id: `notification.${hashOf(notification.eventId)}`,
      kind: 'notification',
      orderId: ref.orderId,
      orderVersion: ref.orderVersion,
      notification: { ...notification },
    };
    return this.guarded(this.notifications, 'notifications', { orderId: ref.orderId }, ref, async () => ({
      before: [],
      after: [
        {
          op: { operationType: BulkOperationType.Create, resourceBody: json(doc) },
          onConflict: 'fail',
        },
      ],
    }));
  }

  /**
   * The order's notifications, by order version (for one consumer that is the order they were recorded in,
   * since an older version is never recorded after a newer one). One query in the order's partition.
   * @throws CosmosStoreError when the query fails
   */
  async listForOrder(orderId: string): Promise<CustomerNotification[]> {
    try {
      const response = await this.notifications.items
        .query<NotificationDocument>(
          {
            // The orderId filter repeats the partition key: redundant for Cosmos DB, needed by the test
            // server, which ignores the partitionKey option of a query.
            query: "SELECT * FROM c WHERE c.orderId = @orderId AND c.kind = 'notification'",
            parameters: [{ name: '@orderId', value: orderId }],
          },
          { partitionKey: orderId },
        )
        .fetchAll();
      this.onRequestCharge('notifications.list', response.requestCharge);
      return response.resources
        .sort(
          (a, b) =>
            a.orderVersion - b.orderVersion || (a.notification.eventId < b.notification.eventId ? -1 : 1),
        )
        .map((d) => d.notification);
    } catch (err) {
      throw explain(`list of the notifications of order ${orderId}`, err);
    }
  }

  /**
   * The guard shared by both stores, in one logical partition of `container` (`partition` names it):
   * reads what `prepare` needs, the version guard and the inbox entry (present: `duplicate`); a higher
   * version in the guard: `stale`, and only the inbox entry is written; otherwise writes `before`, the guard,
   * the inbox entry and `after` in one transactional batch. Each round calls `prepare` again, so its reads are fresh.
   */
  private async guarded(
    container: Container,
    name: string,
    partition: { orderId: string } | { productId: string },
    ref: EventRef,
    prepare: () => Promise<{ before: Step[]; after: Step[] }>,
  ): Promise<GuardOutcome> {
    const partitionKey = 'orderId' in partition ? partition.orderId : partition.productId;
    const guardId = `guard.${hashOf(ref.consumer, ref.orderId)}`;
    const inboxId = `inbox.${hashOf(ref.consumer, ref.eventId)}`;
    const inboxOf = (outcome: 'applied' | 'stale'): InboxDocument => ({
      id: inboxId,
      kind: 'inbox',
      ...partition,
      consumer: ref.consumer,
      eventId: ref.eventId,
      eventOrderId: ref.orderId,
      orderVersion: ref.orderVersion,
      outcome,
    });
    const what = `${name} guard of event ${ref.eventId} for ${ref.consumer}`;

    for (let round = 0; round < maxRounds; round++) {
      // Read in the order the batch writes: what `prepare` reads, then the guard, then the inbox entry.
      const { before, after } = await prepare();
      const guard = await this.readDoc<GuardDocument>(container, name, guardId, partitionKey);
      if (await this.readDoc<InboxDocument>(container, name, inboxId, partitionKey)) return 'duplicate';
      if (guard && ref.orderVersion < guard.version) {
        // Versions only grow, so this stays stale whatever happens next: only mark the event as seen.
        try {
          const created = await container.items.create(inboxOf('stale'));
          this.onRequestCharge(`${name}.markStale`, created.requestCharge);
          return 'stale';
        } catch (err) {
          if (statusOf(err) === 409) return 'duplicate';
          throw explain(what, err);
        }
      }
      const nextGuard: GuardDocument = {
        id: guardId,
        kind: 'guard',
        ...partition,
        consumer: ref.consumer,
        guardOrderId: ref.orderId,
        version: Math.max(guard?.version ?? 0, ref.orderVersion),
      };
      const steps: Step[] = [
        ...before,
        { op: writeOf(guard, nextGuard), onConflict: 'retry' },
        {
          op: { operationType: BulkOperationType.Create, resourceBody: json(inboxOf('applied')) },
          onConflict: 'duplicate',
        },
        ...after,
      ];
      const failure = await this.runBatch(container, name, partitionKey, steps, what);
      if (!failure) return 'applied';
      if (failure === 'duplicate') return 'duplicate';
      if (failure === 'fail') {
        throw new CosmosStoreError(`${what}: a document of this event exists already (409)`);
      }
      await pause(round);
    }
    throw new CosmosStoreError(`${what}: still contended after ${maxRounds} rounds`);
  }

  /**
   * Runs the steps as one transactional batch. Returns undefined when every operation succeeded, otherwise
   * what the failed step's conflict (409 or 412) means.
   * @throws CosmosStoreError for any other failure, naming every operation's status
   */
  private async runBatch(
    container: Container,
    name: string,
    partitionKey: string,
    steps: Step[],
    what: string,
  ): Promise<Step['onConflict'] | undefined> {
    const operations = steps.map((s) => ({ ...s.op, partitionKey }) as OperationInput);
    let statuses: number[];
    try {
      const response = await container.items.batch(operations, partitionKey);
      this.onRequestCharge(`${name}.batch`, chargeOf(response.headers));
      statuses = (response.result ?? []).map((r) => r.statusCode);
    } catch (err) {
      throw explain(what, err);
    }
    if (statuses.length === steps.length && statuses.every((s) => s >= 200 && s < 300)) return undefined;
    // A rejected batch still resolves: the failed operation has its own status, the others answer 424.
    const index = statuses.findIndex((s) => s >= 400 && s !== 424);
    const status = statuses[index];
    if (index >= 0 && (status === 409 || status === 412)) return steps[index].onConflict;
    throw new CosmosStoreError(`${what} failed: batch operation statuses [${statuses.join(', ') || 'none'}]`);
  }

  private async setOne(productId: string, available: number): Promise<void> {
    const what = `setting the available stock of ${productId}`;
    for (let round = 0; round < maxRounds; round++) {
      const doc = await this.readDoc<DemandDocument>(this.stockDemand, 'stockDemand', demandId, productId);
      const next: DemandDocument = {
        id: demandId,
        kind: 'demand',
        productId,
        demanded: doc?.demanded ?? 0,
        available,
      };
      try {
        const response = doc
          ? await this.stockDemand
              .item(demandId, productId)
              .replace(next, { accessCondition: { type: 'IfMatch', condition: doc._etag } })
          : await this.stockDemand.items.create(next);
        this.onRequestCharge('stockDemand.setAvailable', response.requestCharge);
        return;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw explain(what, err);
      }
      await pause(round);
    }
    throw new CosmosStoreError(`${what}: still contended after ${maxRounds} rounds`);
  }

  /** A point read; undefined when the document does not exist. */
  private async readDoc<T>(
    container: Container,
    name: string,
    id: string,
    partitionKey: string,
  ): Promise<(T & { _etag: string }) | undefined> {
    try {
      const response = await container.item(id, partitionKey).read<T & { _etag: string }>();
      this.onRequestCharge(`${name}.read`, response.requestCharge);
      return response.resource;
    } catch (err) {
      throw explain(`read of ${name} document ${id} in partition ${partitionKey}`, err);
    }
  }
}

/** The highest version of an order a consumer has seen; in the order's or the product's partition. */
interface GuardDocument {
  id: string;
  kind: 'guard';
  orderId?: string;
  productId?: string;
  consumer: string;
  /** The order this guard is for (in the `stockDemand` container, `orderId` is not the partition key there). */
  guardOrderId: string;
  version: number;
}

/** One event a consumer processed, with what came of it. */
interface InboxDocument {
  id: string;
  kind: 'inbox';
  orderId?: string;
  productId?: string;
  consumer: string;
  /** CloudEvent `id` (`{orderId}:{version}`). */
  eventId: string;
  eventOrderId: string;
  orderVersion: number;
  outcome: 'applied' | 'stale';
}

/** Demand of one product (`id` is always `demand`). */
interface DemandDocument {
  id: typeof demandId;
  kind: 'demand';
  productId: string;
  /** Units, summed over every applied `ProductAddedToOrder`. */
  demanded: number;
  /** Units in stock, once `setAvailable` named the product. */
  available?: number;
}

/** One customer notification, with the order version of its event (the sort key of `listForOrder`). */
interface NotificationDocument {
  id: string;
  kind: 'notification';
  orderId: string;
  orderVersion: number;
  notification: CustomerNotification;
}

/** One operation of a batch and what a 409 or 412 of it means. */
interface Step {
  op: OperationInput;
  onConflict: 'retry' | 'duplicate' | 'fail';
}

const demandId = 'demand';
/** Rounds of read-decide-write lost to concurrent writers before giving up (each round has one winner). */
const maxRounds = 32;
const setAvailableConcurrency = 10;

/** SHA-256 (hex) of the parts, as JSON so that no two lists of parts collide. */
function hashOf(...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Documents are plain JSON by construction. */
const json = (doc: object): JSONObject => doc as unknown as JSONObject;

/** A replace conditioned on the etag read, or a create when nothing was read. */
function writeOf(read: { _etag: string } | undefined, next: { id: string }): OperationInput {
  return read
    ? { operationType: BulkOperationType.Replace, id: next.id, ifMatch: read._etag, resourceBody: json(next) }
    : { operationType: BulkOperationType.Create, resourceBody: json(next) };
}

/** A short random pause after a lost race, growing with the round (at most 100 ms), so racers spread out. */
function pause(round: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** round)));
}
