import { CosmosConnection, RequestChargeListener } from '../adapters/cosmos/connection';
import { CosmosConsumerStores } from '../adapters/cosmos/cosmosConsumers';
import { CosmosFeedProgress } from '../adapters/cosmos/cosmosFeedProgress';
import { CosmosEventStore } from '../adapters/cosmos/cosmosEventStore';
import { CosmosIdempotencyStore } from '../adapters/cosmos/cosmosIdempotency';
import { CosmosOrderReadModel } from '../adapters/cosmos/cosmosReadModel';
import { CosmosJourneyStore } from '../adapters/cosmos/cosmosJourneyStore';
import { CosmosStockReservations } from '../adapters/cosmos/cosmosStockReservations';
import { Settings } from '../config/settings';
import { cosmosConnectionOptions } from '../config/connections';
import type { Stores } from './services';

/** The Cosmos DB connection the settings describe: a key for an emulator or test server, else the identity. */
export function cosmosConnectionOf(settings: Settings): CosmosConnection {
  return CosmosConnection.open(cosmosConnectionOptions(settings));
}

/**
 * Every store in Cosmos DB, in the containers of src/adapters/cosmos/containers.ts, on one client: nothing on
 * the app's disk and no SQLite (docs/adr/0010-state-on-azure-lives-in-azure-services.md). The stock levels (`STOCK_LEVELS`) feed both the
 * reservations and, once at start, the stock check's available stock; `STOCK_RESERVATION_FAILURES` the
 * simulated failures of the reservations.
 */
export function cosmosStores(settings: Settings, onRequestCharge?: RequestChargeListener): Stores {
  const connection = cosmosConnectionOf(settings);
  const store = new CosmosEventStore(connection.events, {
    leases: connection.leases,
    onRequestCharge,
    feedMode: settings.COSMOS_FEED_MODE,
  });
  const consumers = new CosmosConsumerStores(
    { notifications: connection.notifications, stockDemand: connection.stockDemand },
    onRequestCharge,
  );
  // As the embedded store does: once per start, not awaited (a stock check before it lands sees the
  // previous levels). A failure is logged rather than left as an unhandled rejection.
  consumers.setAvailable(settings.STOCK_LEVELS).catch((err: unknown) => {
    console.error(`cosmos: setting the available stock from STOCK_LEVELS failed: ${String(err)}`);
  });
  return {
    store,
    readModel: new CosmosOrderReadModel(connection.readModel, onRequestCharge),
    journeys: new CosmosJourneyStore(connection.journeys, onRequestCharge),
    feedProgress: new CosmosFeedProgress(connection.leases, onRequestCharge),
    idempotency: new CosmosIdempotencyStore(connection.idempotency, onRequestCharge),
    stockDemand: consumers,
    notifications: consumers,
    stock: new CosmosStockReservations({
      reservations: connection.stockReservations,
      index: connection.reservationIndex,
      levels: settings.STOCK_LEVELS,
      failures: settings.STOCK_RESERVATION_FAILURES,
      onRequestCharge,
    }),
    close: async () => connection.dispose(),
  };
}
