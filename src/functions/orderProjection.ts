import { app, InvocationContext } from '@azure/functions';
import { cosmosConnection, cosmosNames } from '../app/containers';
import { FeedDocument, projectCommits } from '../app/projection';
import { getServices } from '../app/services';

/**
 * Change feed → order read model. On Azure the Cosmos DB trigger feeds it; locally the host feeds it from
 * `EventStore.readFeed` with the same commit documents: the embedded store's global feed, or with
 * EVENT_STORE=cosmos the pull-model change feed. Head documents are ignored (projectCommits skips them).
 * `retry` makes the host re-run a failed batch instead of moving the lease past it. The option names are
 * those of `CosmosDBv4FunctionOptions` in @azure/functions 4.x (types/cosmosDB.v4.d.ts).
 */
app.cosmosDB('orderReadModelProjection', {
  connection: cosmosConnection,
  databaseName: cosmosNames.database,
  containerName: cosmosNames.events.id,
  leaseContainerName: cosmosNames.leases.id,
  leaseContainerPrefix: 'orderReadModel-',
  createLeaseContainerIfNotExists: false,
  startFromBeginning: true,
  maxItemsPerInvocation: 100,
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 1 },
    maximumInterval: { minutes: 5 },
  },
  handler: async (documents: unknown[], context: InvocationContext) => {
    const services = getServices();
    const { applied, skipped } = await projectCommits(
      documents as FeedDocument[],
      services.readModel,
      services.store,
    );
    context.debug(`read model: ${applied} commits applied, ${skipped} already applied`);
  },
});
