import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readEventGridSettings } from '../../app/eventGridSettings';
import { FileDeadLetterStore } from '../../store/fs/fileDeadLetterStore';
import { openDatabase, SqliteDatabase } from '../../store/sqlite/database';
import { FunctionsCore } from '../functionsCore';
import { Logger } from '../logger';
import { loadSubscriptions } from './subscriptions';
import { LocalEventGridTopic } from './topic';

/**
 * Creates the local Event Grid topic from settings. When `EVENTGRID_TOPIC_ENDPOINT` is not set, the
 * service publishes to this topic: the endpoint and key are put into the environment once the port is
 * known (`pointPublisherAt`). The key is `LOCAL_EVENTGRID_KEY`, or a random one for this run.
 */
export function createLocalTopic(
  core: FunctionsCore,
  dataDir: string,
  logger: Logger,
): { topic: LocalEventGridTopic; db: SqliteDatabase; pointPublisherAt(port: number): void } {
  const settings = readEventGridSettings();
  const key = settings.LOCAL_EVENTGRID_KEY ?? randomBytes(24).toString('base64url');
  const db = openDatabase(dataDir);
  const topic = new LocalEventGridTopic(
    core,
    db,
    new FileDeadLetterStore(join(dataDir, 'dead-letters')),
    logger,
    {
      key,
      subscriptions: loadSubscriptions(settings.LOCAL_EVENTGRID_SUBSCRIPTIONS),
      retryScale: settings.LOCAL_RETRY_SCALE,
      pollMs: settings.LOCAL_EVENTGRID_POLL_MS,
      deliveryTimeoutMs: settings.LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS * 1000,
    },
  );
  return {
    topic,
    db,
    pointPublisherAt(port: number) {
      if (settings.EVENTGRID_TOPIC_ENDPOINT) return;
      process.env.EVENTGRID_TOPIC_ENDPOINT = `http://127.0.0.1:${port}/eventgrid/api/events`;
      process.env.EVENTGRID_TOPIC_KEY = key;
    },
  };
}
