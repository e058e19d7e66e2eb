import { DefaultAzureCredential } from '@azure/identity';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cosmosContainerDefinitions, cosmosNames } from '../../src/adapters/cosmos/containers';
import { createServices } from '../../src/composition/services';
import { cosmosConnectionOptions } from '../../src/config/connections';
import { readSettings, SettingsError } from '../../src/config/settings';
import { cosmosClientOptions, throttlingRetryOptions } from '../../src/adapters/cosmos/connection';
import { CosmosEventStore } from '../../src/adapters/cosmos/cosmosEventStore';
import { startCosmosTestServer } from '../support/cosmosServer';

const remote = 'https://orders-prod.documents.azure.com:443/';

describe('Cosmos DB connection settings', () => {
  it('defaults to the embedded store and needs no Cosmos setting for it', () => {
    expect(readSettings({})).toMatchObject({ EVENT_STORE: 'sqlite', COSMOS_FEED_MODE: 'changefeed' });
  });

  it('refuses EVENT_STORE=cosmos without an endpoint, naming the setting', () => {
    expect(() => readSettings({ EVENT_STORE: 'cosmos' })).toThrow(SettingsError);
    expect(() => readSettings({ EVENT_STORE: 'cosmos' })).toThrow(/COSMOS__accountEndpoint/);
    expect(() => readSettings({ EVENT_STORE: 'cosmos', COSMOS_ENDPOINT: 'https://localhost:8081' })).toThrow(
      /COSMOS_KEY/,
    );
  });

  it('allows insecure TLS and the test-server feed only for an endpoint on this machine', () => {
    const local = {
      EVENT_STORE: 'cosmos',
      COSMOS_ENDPOINT: 'https://127.0.0.1:8081',
      COSMOS_KEY: 'k',
      COSMOS_DATABASE: 'orders',
    };
    expect(
      readSettings({ ...local, COSMOS_TLS_INSECURE: 'true', COSMOS_FEED_MODE: 'test-server-scan' }),
    ).toMatchObject({ COSMOS_TLS_INSECURE: true, COSMOS_FEED_MODE: 'test-server-scan' });
    const far = { EVENT_STORE: 'cosmos', COSMOS__accountEndpoint: remote };
    expect(() => readSettings({ ...far, COSMOS_TLS_INSECURE: 'true' })).toThrow(/COSMOS_TLS_INSECURE/);
    expect(() => readSettings({ ...far, COSMOS_FEED_MODE: 'test-server-scan' })).toThrow(/COSMOS_FEED_MODE/);
  });

  it('connects with identity (DefaultAzureCredential) to COSMOS__accountEndpoint, with explicit 429 retry options', () => {
    const options = cosmosClientOptions(
      cosmosConnectionOptions(
        readSettings({ EVENT_STORE: 'cosmos', COSMOS__accountEndpoint: remote, COSMOS_DATABASE: 'orders' }),
      ),
    );
    expect(options.endpoint).toBe(remote);
    expect(options.key).toBeUndefined();
    expect(options.aadCredentials).toBeInstanceOf(DefaultAzureCredential);
    expect(options.agent).toBeUndefined();
    expect(options.connectionPolicy?.retryOptions).toEqual(throttlingRetryOptions);
    expect(throttlingRetryOptions).toEqual({
      maxRetryAttemptCount: 9,
      fixedRetryIntervalInMilliseconds: 0,
      maxWaitTimeInSeconds: 30,
    });
  });

  it('connects with a key to COSMOS_ENDPOINT (emulator, test server), which wins over the identity endpoint', () => {
    const options = cosmosClientOptions(
      cosmosConnectionOptions(
        readSettings({
          COSMOS__accountEndpoint: remote,
          COSMOS_ENDPOINT: 'https://localhost:8081',
          COSMOS_KEY: 'emulator-key',
          COSMOS_TLS_INSECURE: 'true',
          COSMOS_DATABASE: 'orders',
        }),
      ),
    );
    expect(options).toMatchObject({ endpoint: 'https://localhost:8081', key: 'emulator-key' });
    expect(options.aadCredentials).toBeUndefined();
    expect(options.agent).toBeDefined();
  });

  it('builds the Cosmos DB adapters for EVENT_STORE=cosmos without sending a request', async () => {
    const services = createServices(
      readSettings({
        EVENT_STORE: 'cosmos',
        COSMOS_ENDPOINT: 'https://127.0.0.1:1',
        COSMOS_KEY: 'k',
        COSMOS_TLS_INSECURE: 'true',
        COSMOS_DATABASE: 'orders',
      }),
    );
    try {
      expect(services.store).toBeInstanceOf(CosmosEventStore);
      expect(services.settings.EVENT_STORE).toBe('cosmos');
    } finally {
      await services.close();
    }
  });
});

describe('npm run cosmos:setup (the built dist/src/cli/cosmosSetup.js)', () => {
  it('creates the database and every container with its partition key, and leaves them be on a second run', async () => {
    const server = await startCosmosTestServer();
    try {
      const run = () =>
        promisify(execFile)(process.execPath, ['dist/src/cli/cosmosSetup.js'], {
          cwd: resolve(__dirname, '../..'),
          env: { ...process.env, ...server.env, COSMOS_DATABASE: 'setup-test' },
        });
      const first = await run();
      expect(first.stdout).toContain('database setup-test: created');
      for (const def of cosmosContainerDefinitions())
        expect(first.stdout).toContain(`container ${def.id}: created`);
      const second = await run();
      expect(second.stdout).toContain('database setup-test: exists');
      expect(second.stdout).not.toContain('created');

      const connection = await server.connect('setup-test');
      const { resources } = await connection.database.containers.readAll().fetchAll();
      const byId = Object.fromEntries(resources.map((c) => [c.id, c]));
      for (const name of ['events', 'leases', 'readModel', 'idempotency'] as const) {
        expect(byId[cosmosNames[name].id]?.partitionKey?.paths).toEqual([cosmosNames[name].partitionKey]);
      }
      expect(byId[cosmosNames.readModel.id]?.indexingPolicy?.compositeIndexes).toEqual([
        [
          { path: '/createdAt', order: 'descending' },
          { path: '/orderId', order: 'descending' },
        ],
      ]);
    } finally {
      await server.stop();
    }
  });
});
