import type { ContainerDefinition, IndexingPolicy, PartitionKeyDefinitionVersion } from '@azure/cosmos';

/**
 * Names of the Cosmos DB database and containers, with their partition keys: the one place the adapters,
 * the change-feed trigger, the setup command and (later) Bicep take them from.
 */
export const cosmosNames = {
  database: 'orders',
  events: { id: 'events', partitionKey: '/orderId' },
  leases: { id: 'leases', partitionKey: '/id' },
  readModel: { id: 'orderReadModel', partitionKey: '/orderId' },
  idempotency: { id: 'idempotencyKeys', partitionKey: '/id' },
  notifications: { id: 'customerNotifications', partitionKey: '/orderId' },
  stockDemand: { id: 'stockDemand', partitionKey: '/productId' },
  stockReservations: { id: 'stockReservations', partitionKey: '/productId' },
  reservationIndex: { id: 'stockReservationIndex', partitionKey: '/id' },
  journeys: { id: 'orderJourneys', partitionKey: '/orderId' },
} as const;

/** Prefix of the app setting group of the Cosmos DB connection (`COSMOS__accountEndpoint` on Azure). */
export const cosmosConnection = 'COSMOS';

/**
 * Indexing of the events container: only what the adapter's queries filter or sort on (`kind`, `i`, `n` for
 * the pages of the audit trail, the partition key `orderId`, and `recordedAt` for the overview's activity and
 * the live stream). Everything else is excluded, the event payloads `/e/*` and the heads' snapshots above all,
 * so a write pays for five index terms instead of one per payload property (the RU cost of a write grows with
 * the number of indexed properties: https://learn.microsoft.com/azure/cosmos-db/index-policy).
 */
export const eventsIndexingPolicy: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [
    { path: '/orderId/?' },
    { path: '/i/?' },
    { path: '/n/?' },
    { path: '/kind/?' },
    { path: '/recordedAt/?' },
  ],
  excludedPaths: [{ path: '/e/*' }, { path: '/*' }],
};

/**
 * Indexing of the order read model: the list filters (`status`, `customerId`) and the keyset order
 * (`createdAt` desc, `orderId` desc). A multi-property ORDER BY needs a composite index in that order
 * (https://learn.microsoft.com/azure/cosmos-db/index-policy#composite-indexes); the folded `state` and the
 * `summary` are never filtered on and are excluded.
 */
export const readModelIndexingPolicy: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [
    { path: '/orderId/?' },
    { path: '/customerId/?' },
    { path: '/status/?' },
    { path: '/createdAt/?' },
  ],
  excludedPaths: [{ path: '/*' }],
  compositeIndexes: [
    [
      { path: '/createdAt', order: 'descending' },
      { path: '/orderId', order: 'descending' },
    ],
  ],
};

/**
 * Indexing of the customer notifications (src/adapters/cosmos/cosmosConsumers.ts): the one query,
 * `listForOrder`, runs in the order's partition and filters on `kind`; the notification bodies, guards and
 * inbox entries are only ever point-read, so nothing else is indexed (fewer index terms per write, lower RU:
 * https://learn.microsoft.com/azure/cosmos-db/index-policy).
 */
export const notificationsIndexingPolicy: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/orderId/?' }, { path: '/kind/?' }],
  excludedPaths: [{ path: '/*' }],
};

/**
 * Indexing of the point-read-only containers (`stockDemand`, `stockReservations`, `stockReservationIndex`):
 * every read there is a point read by id and partition key (or a read feed of one partition), which needs no
 * index, so every path is excluded. The mode stays `consistent` (not `none`), which keeps `id` and `_ts`
 * indexed for an ad hoc query and allows a time to live later
 * (https://learn.microsoft.com/azure/cosmos-db/index-policy#indexing-mode).
 */
export const pointReadIndexingPolicy: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [],
  excludedPaths: [{ path: '/*' }],
};

/**
 * Partition key definition of the containers added for consumer state and stock: hash version 2, which
 * hashes the whole value (up to 2 KB) instead of its first 101 bytes, so two long product or order ids sharing
 * a prefix never land in one logical partition
 * (https://learn.microsoft.com/azure/cosmos-db/large-partition-keys).
 */
const largeKey = (path: string) => ({
  paths: [path],
  // PartitionKeyDefinitionVersion.V2, as a literal: this module imports only types of the SDK.
  version: 2 as PartitionKeyDefinitionVersion,
});

/** Idempotency keys expire 24 hours after their last write (the container's default time to live, in seconds). */
export const idempotencyTtlSeconds = 24 * 60 * 60;

/**
 * Every container of the database with its partition key, indexing policy and time to live: what the setup
 * command (`npm run cosmos:setup`) creates, and what Bicep is to declare. The leases container (partition
 * key `/id`, as the Functions Cosmos DB trigger requires) keeps the default indexing.
 *
 * Consumer state and stock (docs/adr/0010-state-on-azure-lives-in-azure-services.md: nothing on the app's disk
 * on Azure). A transactional batch spans one
 * logical partition only (https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch), so each
 * container is partitioned by what its guard and the write it guards share:
 * - `customerNotifications` (`/orderId`): per order, the version guard and inbox entries of the notification
 *   consumer and the notifications themselves; guard and notification are one batch in the order's partition.
 * - `stockDemand` (`/productId`): per product, the demand counter, and the stock-check consumer's inbox
 *   entries and per-(consumer, order) version guards, so guard and counter are one batch in the product's
 *   partition (the version guard is therefore per order and product; see cosmosConsumers.ts).
 * - `stockReservations` (`/productId`): per product, the stock document (units reserved) and the reservations
 *   and attempt counters of that product; a reservation and the stock it takes are one batch.
 * - `stockReservationIndex` (`/id`): reservation id → product, because the port releases and reads a
 *   reservation by its id alone; one point read finds the product's partition.
 * - `orderJourneys` (`/orderId`): per order, its journey (event types and times), written by the
 *   `orderJourneyProjection` change-feed function and read whole by the funnel and process-map routes
 *   (src/adapters/cosmos/cosmosJourneyStore.ts); point reads and a full scan, so nothing is indexed.
 * None has a time to live: inbox entries must outlive any redelivery, and reservations and notifications are
 * business records.
 */
export function cosmosContainerDefinitions(): ContainerDefinition[] {
  return [
    {
      id: cosmosNames.events.id,
      partitionKey: { paths: [cosmosNames.events.partitionKey] },
      indexingPolicy: eventsIndexingPolicy,
    },
    { id: cosmosNames.leases.id, partitionKey: { paths: [cosmosNames.leases.partitionKey] } },
    {
      id: cosmosNames.readModel.id,
      partitionKey: { paths: [cosmosNames.readModel.partitionKey] },
      indexingPolicy: readModelIndexingPolicy,
    },
    {
      id: cosmosNames.idempotency.id,
      partitionKey: { paths: [cosmosNames.idempotency.partitionKey] },
      defaultTtl: idempotencyTtlSeconds,
    },
    {
      id: cosmosNames.notifications.id,
      partitionKey: largeKey(cosmosNames.notifications.partitionKey),
      indexingPolicy: notificationsIndexingPolicy,
    },
    {
      id: cosmosNames.stockDemand.id,
      partitionKey: largeKey(cosmosNames.stockDemand.partitionKey),
      indexingPolicy: pointReadIndexingPolicy,
    },
    {
      id: cosmosNames.stockReservations.id,
      partitionKey: largeKey(cosmosNames.stockReservations.partitionKey),
      indexingPolicy: pointReadIndexingPolicy,
    },
    {
      id: cosmosNames.reservationIndex.id,
      partitionKey: largeKey(cosmosNames.reservationIndex.partitionKey),
      indexingPolicy: pointReadIndexingPolicy,
    },
    {
      id: cosmosNames.journeys.id,
      partitionKey: largeKey(cosmosNames.journeys.partitionKey),
      indexingPolicy: pointReadIndexingPolicy,
    },
  ];
}
