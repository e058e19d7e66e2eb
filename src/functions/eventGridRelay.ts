import { app, InvocationContext } from '@azure/functions';
import { getEventing } from '../app/eventing';
import { publishCommits } from '../app/publishing';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

/**
 * The outbox relay: change feed → CloudEvents → Event Grid topic. It returns only after Event Grid
 * accepted every batch, so the lease moves only then; a failure throws, and `retry` (unlimited,
 * exponential) makes the trigger run the same batch again instead of skipping it.
 */
app.cosmosDB('eventGridRelay', {
  ...eventsChangeFeed('eventGrid-'),
  handler: async (documents: unknown[], context: InvocationContext) => {
    const eventing = getEventing();
    const result = await publishCommits(
      documents as { kind?: string }[],
      eventing.cloudEvents,
      eventing.publisher,
      eventing.deadLetters,
      { warn: (m) => context.warn(m) },
    );
    context.debug(`published ${result.published} CloudEvents, dead-lettered ${result.deadLettered}`);
  },
});
