import { cosmosConnection, cosmosNames } from '../../app/containers';

/**
 * Options of a Cosmos DB change-feed trigger on the events container (the option names of
 * `CosmosDBv4FunctionOptions`, @azure/functions 4.x types/cosmosDB.v4.d.ts). Each function gets its own
 * lease prefix in the shared leases container, so each keeps its own position.
 * - `startFromBeginning`: a new function processes the whole history.
 * - `maxItemsPerInvocation`: 100 documents per batch at most.
 * - `retry` (unlimited, exponential 1 s to 5 min): without it the trigger moves its lease past a batch whose
 *   handler failed (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages); with it, the
 *   same batch runs again, so nothing is skipped.
 */
export function eventsChangeFeed(leaseContainerPrefix: string) {
  return {
    connection: cosmosConnection,
    databaseName: cosmosNames.database,
    containerName: cosmosNames.events.id,
    leaseContainerName: cosmosNames.leases.id,
    leaseContainerPrefix,
    createLeaseContainerIfNotExists: false,
    startFromBeginning: true,
    maxItemsPerInvocation: 100,
    retry: {
      strategy: 'exponentialBackoff' as const,
      maxRetryCount: -1,
      minimumInterval: { seconds: 1 },
      maximumInterval: { minutes: 5 },
    },
  };
}
