import type { RetryOptions } from '@azure/functions';
import { cosmosConnection, cosmosNames } from '../../adapters/cosmos/containers';
import { cosmosDatabaseSetting } from '../../config/settings';

/**
 * Options of a Cosmos DB change-feed trigger on the events container (the option names of
 * `CosmosDBv4FunctionOptions`, @azure/functions 4.x types/cosmosDB.v4.d.ts). Each function gets its own
 * lease prefix in the shared leases container, so each keeps its own position.
 * - `startFromBeginning`: a new function processes the whole history.
 * - `maxItemsPerInvocation`: 100 documents per batch at most.
 * - `retry` (unlimited, exponential 1 s to 5 min): without it the trigger moves its lease past a batch whose
 *   handler failed (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages); with it, the
 *   same batch runs again, so nothing is skipped. `retry` replaces it for one function: after a bounded policy's
 *   last attempt the trigger moves the lease on, so that function must set the batch aside itself (the Event
 *   Grid relay parks it). The projection and the acceptance functions keep the unlimited policy: their failures
 *   are their own stores' and they have nowhere to set a batch aside, so skipping one would lose it.
 */
export function eventsChangeFeed(leaseContainerPrefix: string, retry?: RetryOptions) {
  return {
    connection: cosmosConnection,
    // An app-setting binding expression: the trigger reads the database from the same setting the app
    // writes to (src/config/settings.ts), so the two cannot diverge.
    databaseName: `%${cosmosDatabaseSetting}%`,
    containerName: cosmosNames.events.id,
    leaseContainerName: cosmosNames.leases.id,
    leaseContainerPrefix,
    createLeaseContainerIfNotExists: false,
    startFromBeginning: true,
    maxItemsPerInvocation: 100,
    retry: retry ?? {
      strategy: 'exponentialBackoff' as const,
      maxRetryCount: -1,
      minimumInterval: { seconds: 1 },
      maximumInterval: { minutes: 5 },
    },
  };
}
