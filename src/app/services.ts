import { CosmosConnection, RequestChargeListener } from '../store/cosmos/connection';
import { CosmosEventStore } from '../store/cosmos/cosmosEventStore';
import { CosmosIdempotencyStore } from '../store/cosmos/cosmosIdempotency';
import { CosmosOrderReadModel } from '../store/cosmos/cosmosReadModel';
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

export interface ServiceOptions {
  /**
   * Receives the request charge (RU) of every Cosmos DB operation (EVENT_STORE=cosmos). The local host logs
   * it at debug level; without a listener, LOG_LEVEL=debug or trace writes it with `console.debug` (which the
   * Functions host collects on Azure).
   */
  onRequestCharge?: RequestChargeListener;
}

/**
 * Builds the adapters that EVENT_STORE names: the embedded SQLite database under DATA_DIR, or Cosmos DB
 * (COSMOS__accountEndpoint with identity, or COSMOS_ENDPOINT and COSMOS_KEY). Settings left out take their
 * defaults. No request is sent to Cosmos DB until the first operation.
 * @throws SettingsError when EVENT_STORE=cosmos has no connection settings
 */
export function createServices(input: Partial<Settings>, options: ServiceOptions = {}): Services {
  const settings: Settings = { ...readSettings({}), ...input };
  if (settings.EVENT_STORE === 'cosmos') {
    const connection = CosmosConnection.fromSettings(settings);
    const debug = settings.LOG_LEVEL === 'debug' || settings.LOG_LEVEL === 'trace';
    const onRequestCharge =
      options.onRequestCharge ??
      (debug
        ? (operation: string, ru: number) => console.debug(`[cosmos] ${operation}: ${ru} RU`)
        : undefined);
    const store = new CosmosEventStore(connection.events, {
      leases: connection.leases,
      onRequestCharge,
      feedMode: settings.COSMOS_FEED_MODE,
    });
    return {
      settings,
      store,
      readModel: new CosmosOrderReadModel(connection.readModel, onRequestCharge),
      idempotency: new CosmosIdempotencyStore(connection.idempotency, onRequestCharge),
      orders: new OrderService(store),
      close: async () => connection.dispose(),
    };
  }
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

/**
 * The process-wide services, created on first use from the environment's settings; `options` count only on
 * that first call (the local host makes it, before any function runs).
 */
export function getServices(options?: ServiceOptions): Services {
  current ??= createServices(readSettings(), options);
  return current;
}

/** Closes the process-wide services (host shutdown, tests). */
export async function closeServices(): Promise<void> {
  const s = current;
  current = undefined;
  await s?.close();
}
