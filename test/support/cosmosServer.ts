import { CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { AddressInfo } from 'node:net';
import { readSettings, Settings } from '../../src/config/settings';
import { CosmosConnection, cosmosClientOptions } from '../../src/adapters/cosmos/connection';
import { cosmosNames } from '../../src/adapters/cosmos/containers';
import { ensureCosmosResources } from '../../src/cli/cosmosSetup';

/** A key-authenticated client for the endpoint and key of these settings (test server, emulator, test account). */
function keyClient(settings: Settings, database: string): CosmosClient {
  return new CosmosClient(
    cosmosClientOptions({
      endpoint: settings.COSMOS_ENDPOINT!,
      key: settings.COSMOS_KEY,
      database,
      tlsInsecure: settings.COSMOS_TLS_INSECURE,
    }),
  );
}

/**
 * @vercel/cosmosdb-server, started in this test process over HTTPS on a free port of 127.0.0.1 with the
 * self-signed certificate it ships (expired, issued to "cosmosdb": clients connect with
 * COSMOS_TLS_INSECURE=true, which the settings allow for loopback endpoints only). It keeps everything in
 * memory. What it cannot show: atomic transactional batches (it runs a batch's operations one after another
 * and stops at the first failure, without rolling back) and a change feed (a stub: the first read returns
 * the documents there, every later read answers 304).
 */
export interface CosmosTestServer {
  endpoint: string;
  key: string;
  /** Settings for a client of this server (key auth, insecure TLS, the test-server feed mode). */
  settings: Settings;
  /** The env of a local host process using this server. */
  env: Record<string, string>;
  /** Opens a connection (its own client) and creates the database and containers. */
  connect(databaseId?: string): Promise<CosmosConnection>;
  stop(): Promise<void>;
}

export async function startCosmosTestServer(): Promise<CosmosTestServer> {
  const server = createHttpsServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = 'test-server-key';
  const env = {
    EVENT_STORE: 'cosmos',
    COSMOS_ENDPOINT: endpoint,
    COSMOS_KEY: key,
    COSMOS_TLS_INSECURE: 'true',
    COSMOS_FEED_MODE: 'test-server-scan',
    COSMOS_DATABASE: cosmosNames.database,
  };
  const settings = readSettings(env);
  const connections: CosmosConnection[] = [];
  return {
    endpoint,
    key,
    settings,
    env,
    connect: async (databaseId = settings.COSMOS_DATABASE ?? cosmosNames.database) => {
      const connection = new CosmosConnection(keyClient(settings, databaseId), databaseId);
      connections.push(connection);
      await ensureCosmosResources(connection.client, databaseId);
      return connection;
    },
    stop: async () => {
      connections.forEach((c) => c.dispose());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A real Cosmos DB account or emulator from COSMOS_ENDPOINT and COSMOS_KEY in the environment (with
 * COSMOS_TLS_INSECURE=true for the emulator's certificate), or undefined when they are not set.
 * The tests use the database COSMOS_TEST_DATABASE (default `orders-test`) and delete it after when they created it.
 */
export function realCosmosSettings(env: NodeJS.ProcessEnv = process.env): Settings | undefined {
  if (!env.COSMOS_ENDPOINT || !env.COSMOS_KEY) return undefined;
  return readSettings({
    EVENT_STORE: 'cosmos',
    COSMOS_ENDPOINT: env.COSMOS_ENDPOINT,
    COSMOS_KEY: env.COSMOS_KEY,
    COSMOS_TLS_INSECURE: env.COSMOS_TLS_INSECURE ?? 'false',
    COSMOS_DATABASE: env.COSMOS_TEST_DATABASE ?? 'orders-test',
  });
}

/** Connects to a real account, creating the test database and containers; `drop` deletes what it created. */
export async function connectReal(
  settings: Settings,
): Promise<{ connection: CosmosConnection; drop(): Promise<void> }> {
  const database = settings.COSMOS_DATABASE ?? 'orders-test';
  const connection = new CosmosConnection(keyClient(settings, database), database);
  const report = await ensureCosmosResources(connection.client, database);
  return {
    connection,
    drop: async () => {
      if (report.database.created) await connection.database.delete();
      connection.dispose();
    },
  };
}
