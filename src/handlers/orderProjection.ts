import { InvocationContext } from '@azure/functions';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { FeedDocument, projectCommits } from '../app/projection';
import { services } from '../composition/services';

/**
 * Change feed → order read model. On Azure the Cosmos DB trigger feeds it; locally the host feeds it from
 * `EventStore.readFeed` with the same commit documents: the embedded store's global feed, or with
 * EVENT_STORE=cosmos the pull-model change feed. Head documents are ignored (projectCommits skips them).
 * `retry` makes the host re-run a failed batch instead of moving the lease past it. The option names are
 * those of `CosmosDBv4FunctionOptions` in @azure/functions 4.x (types/cosmosDB.v4.d.ts).
 */
export const orderReadModelProjection = async (documents: unknown[], context: InvocationContext) => {
  const { readModel, store } = services();
  // The log line inside the batch's span, so it carries the trace and span id.
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const { applied, skipped } = await projectCommits(documents as FeedDocument[], readModel, store);
      context.debug(`read model: ${applied} commits applied, ${skipped} already applied`);
    },
    services().feedProgress,
  );
};
