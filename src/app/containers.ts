/**
 * Names of the Cosmos DB database and containers, with their partition keys: the one place the adapters,
 * the change-feed trigger, the setup command and (later) Bicep take them from.
 */
export const cosmosNames = {
  database: 'orders',
  events: { id: 'events', partitionKey: '/orderId' },
  leases: { id: 'leases', partitionKey: '/id' },
  readModel: { id: 'orderReadModel', partitionKey: '/orderId' },
} as const;

/** Prefix of the app setting group of the Cosmos DB connection (`COSMOS__accountEndpoint` on Azure). */
export const cosmosConnection = 'COSMOS';
