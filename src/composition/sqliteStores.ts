import { closeDatabase, openDatabase } from '../adapters/sqlite/database';
import { SqliteConsumerStores } from '../adapters/sqlite/sqliteConsumers';
import { SqliteFeedProgress } from '../adapters/sqlite/sqliteFeedProgress';
import { SqliteEventStore } from '../adapters/sqlite/sqliteEventStore';
import { SqliteIdempotencyStore } from '../adapters/sqlite/sqliteIdempotency';
import { SqliteOrderReadModel } from '../adapters/sqlite/sqliteReadModel';
import { SqliteJourneyStore } from '../adapters/sqlite/sqliteJourneyStore';
import { SqliteStockReservations } from '../adapters/sqlite/sqliteStockReservations';
import { Settings } from '../config/settings';
import type { Stores } from './services';

/** Every store in the embedded database `DATA_DIR/orders.db`, on one connection. */
export function sqliteStores(settings: Settings): Stores {
  const db = openDatabase(settings.DATA_DIR);
  const consumers = new SqliteConsumerStores(db);
  // Once per start, not awaited (a stock check before it lands sees the previous levels); close waits for it.
  consumers.setAvailable(settings.STOCK_LEVELS).catch((err: unknown) => {
    console.error(`sqlite: setting the available stock from STOCK_LEVELS failed: ${String(err)}`);
  });
  return {
    store: new SqliteEventStore(db),
    readModel: new SqliteOrderReadModel(db),
    journeys: new SqliteJourneyStore(db),
    feedProgress: new SqliteFeedProgress(db),
    idempotency: new SqliteIdempotencyStore(db),
    stockDemand: consumers,
    notifications: consumers,
    stock: new SqliteStockReservations(db, {
      levels: settings.STOCK_LEVELS,
      failures: settings.STOCK_RESERVATION_FAILURES,
    }),
    close: () => closeDatabase(db),
  };
}
