import { CosmosConnection } from '../adapters/cosmos/connection';
import { CosmosEventStore } from '../adapters/cosmos/cosmosEventStore';
import { openDatabase } from '../adapters/sqlite/database';
import { SqliteEventStore } from '../adapters/sqlite/sqliteEventStore';
import { cosmosConnectionOptions } from '../config/connections';
import { Settings } from '../config/settings';
import { EventStore } from '../ports/eventStore';

/**
 * The store the local change feed reads, on a connection of the host's own (as the Functions host's Cosmos
 * DB trigger extension has its own client): the embedded database, or with EVENT_STORE=cosmos the events
 * container, whose checkpoints live in the leases container as on Azure. `close` closes the connection.
 */
export function openFeedSource(settings: Settings): EventStore {
  if (settings.EVENT_STORE === 'sqlite') return new SqliteEventStore(openDatabase(settings.DATA_DIR));
  const connection = CosmosConnection.open(cosmosConnectionOptions(settings));
  const store = new CosmosEventStore(connection.events, {
    leases: connection.leases,
    feedMode: settings.COSMOS_FEED_MODE,
  });
  return Object.assign(store, { close: async () => connection.dispose() });
}
