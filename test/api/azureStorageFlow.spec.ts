import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as storageBlob from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobDeadLetterStore } from '../../src/adapters/blob/blobDeadLetterStore';
import { developmentStorageClient } from '../../src/composition/deadLetters';
import { AzuriteBlob, startAzuriteBlob } from '../support/azurite';
import { CosmosTestServer, startCosmosTestServer } from '../support/cosmosServer';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

/**
 * The whole flow with the Azure storage choices: every piece of application state in Cosmos DB (through the
 * real SDK against @vercel/cosmosdb-server) and dead letters as blobs (the real @azure/storage-blob against
 * Azurite). What it proves: the function code keeps no application state on the app's disk; the only
 * files under DATA_DIR are the local stand-ins' own (the durable runtime's history, the local Event Grid
 * topic's queue), which on Azure are the Durable Functions extension's task hub and Event Grid itself.
 * What it cannot prove: atomic batches and the real change feed (the test server has neither; see
 * test/store/cosmosEventStore.spec.ts), identity-based connections (keys and development storage here).
 */

let cosmos: CosmosTestServer;
let azurite: AzuriteBlob;
let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
const container = 'dead-letters-flow';

beforeAll(async () => {
  [cosmos, azurite, subscriber] = await Promise.all([
    startCosmosTestServer(),
    startAzuriteBlob(),
    startSubscriber({ '/broken': () => ({ status: 400 }) }),
  ]);
  await cosmos.connect();
  const dir = mkdtempSync(join(tmpdir(), 'azure-flow-'));
  const subscriptions = join(dir, 'subscriptions.json');
  writeFileSync(
    subscriptions,
    JSON.stringify([
      { name: 'all-events', endpointUrl: `${subscriber.base}/all` },
      // Answers 400: Event Grid does not retry it, so each event is dead-lettered by the local topic.
      { name: 'broken', endpointUrl: `${subscriber.base}/broken`, maxDeliveryAttempts: 1 },
    ]),
  );
  host = await startTestHost(
    {
      ...cosmos.env,
      DEAD_LETTERS: 'blob',
      DEAD_LETTERS_STORAGE: azurite.connectionSetting,
      DEAD_LETTERS_CONTAINER: container,
      // The event lake in Blob Storage too, as on Azure (EVENT_LAKE_STORAGE: Azurite's development storage).
      EVENT_LAKE: 'blob',
      EVENT_LAKE_STORAGE: azurite.connectionSetting,
      LOCAL_EVENTGRID_SUBSCRIPTIONS: subscriptions,
      APPROVAL_THRESHOLD: '1000.00',
    },
    join(dir, 'data'),
  );
});
afterAll(async () => {
  if (process.env.FLOW_LOGS) console.log(host?.logs.join(''));
  await host?.stop();
  await Promise.all([cosmos?.stop(), azurite?.stop(), subscriber?.close()]);
});

describe('the order flow with every piece of state in Azure services (Cosmos DB test server, Azurite)', () => {
  it('creates, adds, submits, accepts, publishes and notifies, with no application state on disk', async () => {
    const orderId = `azure-flow-${Date.now()}`;
    expect((await call(host, 'POST', '/api/orders', { customerId: 'c-az', orderId })).status).toBe(201);
    const line = { productId: 'sku-az', quantity: 2, unitPrice: '10.00', currency: 'EUR' };
    expect((await call(host, 'POST', `/api/orders/${orderId}/items`, line)).status).toBe(200);
    expect((await call(host, 'POST', `/api/orders/${orderId}/submit`)).status).toBe(202);

    const accepted = await eventually(async () => {
      const order = await call(host, 'GET', `/api/orders/${orderId}`);
      return order.body.status === 'accepted' ? order.body : undefined;
    });
    expect(accepted.version).toBeGreaterThanOrEqual(5);

    // Published: every event of the order reached the webhook as a CloudEvent, in Cosmos DB's order.
    const ids = await eventually(async () => {
      const got = subscriber
        .posts('/all')
        .map((p) => JSON.parse(p.body).id as string)
        .filter((id) => id.startsWith(`${orderId}:`));
      return got.length >= accepted.version ? got : undefined;
    });
    expect(new Set(ids)).toEqual(
      new Set(Array.from({ length: accepted.version }, (_, k) => `${orderId}:${k + 1}`)),
    );

    // Notified: the consumer function recorded the acceptance in Cosmos DB; stock demand was counted there.
    const notes = await eventually(async () => {
      const r = await call(host, 'GET', `/api/orders/${orderId}/notifications`);
      return r.body.notifications?.length ? r.body.notifications : undefined;
    });
    expect(notes[0]).toMatchObject({ orderId, kind: 'order-accepted' });
    const demand = await eventually(async () => {
      const r = await call(host, 'GET', '/api/stock/sku-az');
      return r.status === 200 ? r.body : undefined;
    });
    expect(demand).toMatchObject({ productId: 'sku-az', demanded: 2 });

    // Dead letters are blobs: the webhook that answers 400 had each event dead-lettered into the container.
    const letters = new BlobDeadLetterStore(
      developmentStorageClient(storageBlob, azurite.connectionSetting).getContainerClient(container),
    );
    const dead = await eventually(async () => {
      // The host creates the container with its first letter: until then it does not exist.
      const found = await letters.list('eventgrid-broken').catch(() => []);
      return found.some((l) => (l.event as { id: string }).id === `${orderId}:1`) ? found : undefined;
    });
    expect(dead[0]).toMatchObject({ lastStatus: 400 });

    // Nothing of the application's state on disk: only the local stand-ins' own files, and the development
    // sign-in key (local only: App Service Authentication signs callers in on Azure).
    const files = readdirSync(host.dataDir).filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm'));
    expect(files.sort()).toEqual(['dev-signin.key', 'durable.db', 'eventgrid.db']);
    expect(existsSync(join(host.dataDir, 'orders.db'))).toBe(false);
  });
});
