import { InvocationContext } from '@azure/functions';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { services } from '../composition/services';

/**
 * Change feed → event lake (src/app/eventLake.ts): stages the batch, and rolls the staged batches into Parquet when
 * they are due (EVENT_LAKE_ROLL_BYTES, EVENT_LAKE_ROLL_SECONDS). The lease moves only after the batch is staged; a
 * failure (Storage, an event this code cannot upcast) throws, and the unlimited retry runs the same batch again,
 * which the lake absorbs without duplicating a row.
 */
export const eventLakeConsumer = async (documents: unknown[], context: InvocationContext) => {
  const { lake } = services();
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const roll = await lake.consume(documents);
      if (roll) {
        context.debug(
          `event lake: roll ${roll.seq}, ${roll.events} events in ${roll.files} files (${roll.duplicates} already in the lake)`,
        );
      }
    },
    services().feedProgress,
  );
};
