import { EventStore } from '../store/eventStore';
import { IdempotencyStore } from '../store/idempotency';
import { OrderReadModel } from '../store/readModel';
import { openDatabase } from '../store/sqlite/database';
import { SqliteEventStore } from '../store/sqlite/sqliteEventStore';
import { SqliteIdempotencyStore } from '../store/sqlite/sqliteIdempotency';
import { SqliteOrderReadModel } from '../store/sqlite/sqliteReadModel';
import { OrderService } from './orderService';
import { readSettings, Settings } from './settings';

/** The adapters the functions use, chosen by settings. */
export interface Services {
  settings: Settings;
  store: EventStore;
  readModel: OrderReadModel;
  idempotency: IdempotencyStore;
  orders: OrderService;
  close(): Promise<void>;
}

export function createServices(settings: Settings): Services {
  const db = openDatabase(settings.DATA_DIR);
  const store = new SqliteEventStore(db);
  return {
    settings,
    store,
    readModel: new SqliteOrderReadModel(db),
    idempotency: new SqliteIdempotencyStore(db),
    orders: new OrderService(store),
    close: () => store.close(),
  };
}

let current: Services | undefined;

/** The process-wide services, created on first use from the environment's settings. */
export function getServices(): Services {
  current ??= createServices(readSettings());
  return current;
}

/** Closes the process-wide services (host shutdown, tests). */
export async function closeServices(): Promise<void> {
  const s = current;
  current = undefined;
  await s?.close();
}
