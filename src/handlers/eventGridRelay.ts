import { InvocationContext } from '@azure/functions';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { publishCommits } from '../app/publishing';
import { services } from '../composition/services';

/**
 * The outbox relay: change feed → CloudEvents → Event Grid topic. It returns only once every event was
 * accepted by Event Grid or set aside, so the lease moves only then. Events the topic refuses for good are
 * dead-lettered and the others published; a transient failure throws, and the trigger's bounded `retry`
 * (src/functions/eventGridRelay.ts) runs the same batch again. On the last run, which `context.retryContext`
 * tells (`retryCount` = `maxRetryCount`; no retry context means no retry follows), the unpublished commits
 * are parked instead and the function returns (see `publishCommits`, src/app/publishing.ts).
 */
export const eventGridRelay = async (documents: unknown[], context: InvocationContext): Promise<void> => {
  const eventing = services();
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const result = await publishCommits(
        documents as { kind?: string }[],
        eventing.cloudEvents,
        eventing.publisher,
        eventing.deadLetters,
        { warn: (m) => context.warn(m), error: (m) => context.error(m) },
        context.retryContext,
      );
      context.debug(
        `published ${result.published} CloudEvents, dead-lettered ${result.deadLettered}, parked ${result.parked} commit(s)`,
      );
    },
    services().feedProgress,
  );
};
