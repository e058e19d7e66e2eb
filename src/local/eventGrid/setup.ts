import { LocalSettings } from '../settings';
import { DeadLetterStore } from '../../ports/deadLetters';
import { openDatabase, SqliteDatabase } from '../../adapters/sqlite/database';
import { FunctionsCore } from '../functionsCore';
import { Logger } from '../logger';
import { loadSubscriptions } from './subscriptions';
import { LocalEventGridTopic } from './topic';

/**
 * Creates the local Event Grid topic, with its delivery queue in a database of its own
 * (`DATA_DIR/eventgrid.db`: the stand-in's state, as Event Grid keeps its own on Azure), dead-lettering into
 * `deadLetters` (the store the app's DEAD_LETTERS settings choose, as on Azure the subscriptions dead-letter
 * into the same Storage container). Publishers must send `key` in `aeg-sas-key`.
 */
export function createLocalTopic(
  core: FunctionsCore,
  dataDir: string,
  settings: LocalSettings,
  key: string,
  deadLetters: DeadLetterStore,
  logger: Logger,
): { topic: LocalEventGridTopic; db: SqliteDatabase } {
  const db = openDatabase(dataDir, 'eventgrid.db');
  const topic = new LocalEventGridTopic(core, db, deadLetters, logger, {
    key,
    subscriptions: loadSubscriptions(settings.LOCAL_EVENTGRID_SUBSCRIPTIONS),
    retryScale: settings.LOCAL_RETRY_SCALE,
    pollMs: settings.LOCAL_EVENTGRID_POLL_MS,
    deliveryTimeoutMs: settings.LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS * 1000,
  });
  return { topic, db };
}
