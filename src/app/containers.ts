import type { ContainerDefinition, IndexingPolicy } from '@azure/cosmos';

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
} as const;

/** Prefix of the app setting group of the Cosmos DB connection (`COSMOS__accountEndpoint` on Azure). */
export const cosmosConnection = 'COSMOS';

/**
 * Indexing of the events container: only what the adapter's queries filter or sort on (`kind`, `i`, and
 * the partition key `orderId`). Everything else is excluded, the event payloads `/e/*` above all, so a
 * write pays for three index terms instead of one per payload property (the RU cost of a write grows with
 * the number of indexed properties: https://learn.microsoft.com/azure/cosmos-db/index-policy).
 */
export const eventsIndexingPolicy: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/orderId/?' }, { path: '/i/?' }, { path: '/kind/?' }],
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

/** Idempotency keys expire 24 hours after their last write (the container's default time to live, in seconds). */
export const idempotencyTtlSeconds = 24 * 60 * 60;

/**
 * Every container of the database with its partition key, indexing policy and time to live: what the setup
 * command (`npm run cosmos:setup`) creates, and what Bicep is to declare. The leases container (partition
 * key `/id`, as the Functions Cosmos DB trigger requires) keeps the default indexing.
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
  ];
}
