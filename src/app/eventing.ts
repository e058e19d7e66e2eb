import { join } from 'node:path';
import { EventGridCloudEventPublisher } from '../eventgrid/eventGridPublisher';
import { NotificationStore, StockDemandStore } from '../store/consumers';
import { FileDeadLetterStore } from '../store/fs/fileDeadLetterStore';
import { openDatabase } from '../store/sqlite/database';
import { SqliteConsumerStores } from '../store/sqlite/sqliteConsumers';
import { CloudEventOptions } from './cloudEvents';
import { EventGridSettings, publicBaseUrl, readEventGridSettings } from './eventGridSettings';
import { CloudEventPublisher, DeadLetterStore } from './publishing';
import { readSettings } from './settings';

/** What the relay and the Event Grid consumers use, built from settings on first use. */
export interface Eventing {
  settings: EventGridSettings;
  cloudEvents: CloudEventOptions;
  publisher: CloudEventPublisher;
  deadLetters: DeadLetterStore;
  stockDemand: StockDemandStore;
  notifications: NotificationStore;
  close(): void;
}

let current: Eventing | undefined;

/**
 * The process-wide eventing services. Consumer state lives in the embedded database under DATA_DIR (a
 * connection of its own), dead letters in DATA_DIR/dead-letters.
 * @throws SettingsError for invalid settings, Error when no topic endpoint is configured
 */
export function getEventing(): Eventing {
  if (current) return current;
  const base = readSettings();
  const settings = readEventGridSettings();
  if (!settings.EVENTGRID_TOPIC_ENDPOINT) {
    throw new Error('EVENTGRID_TOPIC_ENDPOINT is not set (the local host sets it to its own topic)');
  }
  const db = openDatabase(base.DATA_DIR);
  const consumers = new SqliteConsumerStores(db);
  void consumers.setAvailable(settings.STOCK_LEVELS);
  current = {
    settings,
    cloudEvents: {
      source: settings.CLOUDEVENTS_SOURCE,
      typePrefix: settings.CLOUDEVENTS_TYPE_PREFIX,
      schemaBaseUrl: publicBaseUrl(settings, base.PORT),
    },
    publisher: new EventGridCloudEventPublisher({
      endpoint: settings.EVENTGRID_TOPIC_ENDPOINT,
      key: settings.EVENTGRID_TOPIC_KEY,
      timeoutMs: settings.EVENTGRID_PUBLISH_TIMEOUT_MS,
      maxRetries: settings.EVENTGRID_PUBLISH_MAX_RETRIES,
    }),
    deadLetters: new FileDeadLetterStore(join(base.DATA_DIR, 'dead-letters')),
    stockDemand: consumers,
    notifications: consumers,
    close: () => db.close(),
  };
  return current;
}

export function closeEventing(): void {
  current?.close();
  current = undefined;
}
