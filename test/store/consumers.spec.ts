import { Items } from '@azure/cosmos';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosConsumerStores } from '../../src/adapters/cosmos/cosmosConsumers';
import { openDatabase, SqliteDatabase } from '../../src/adapters/sqlite/database';
import { SqliteConsumerStores } from '../../src/adapters/sqlite/sqliteConsumers';
import {
  connectReal,
  CosmosTestServer,
  realCosmosSettings,
  startCosmosTestServer,
} from '../support/cosmosServer';
import { ConsumerBackend, consumersContract, ref } from './consumersContract';
import { newStreamId } from './contract';

/**
 * The consumer state contract against both adapters: the embedded SQLite store (a database file in a
 * temporary folder, each instance on its own connection, as two processes would be) and Cosmos DB through
 * the real @azure/cosmos SDK against @vercel/cosmosdb-server (a fresh database per test), and a real
 * account or emulator as well when COSMOS_ENDPOINT and COSMOS_KEY are set.
 *
 * What the test server cannot prove: it runs a transactional batch's operations one after another and stops
 * at the first failure WITHOUT rolling back, so the atomicity of guard and write is never exercised there. It
 * does run each batch without interleaving and checks `ifMatch`, so the races show the etag guard and the
 * adapter's retry, not Cosmos DB atomicity: they are smoke tests there, and say so in their names.
 */

const testServerLimits = {
  atomicity:
    'the test server applies a batch without interleaving and checks etags but never rolls back, so this shows the etag guard, not Cosmos DB atomicity',
};

consumersContract(
  'embedded SQLite',
  async (): Promise<ConsumerBackend> => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-consumers-'));
    const opened: SqliteDatabase[] = [];
    return {
      open: () => {
        const db = openDatabase(dir);
        opened.push(db);
        return new SqliteConsumerStores(db);
      },
      dispose: async () => {
        for (const db of opened) db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { demandVersionScope: 'order' },
);

let server: Promise<CosmosTestServer> | undefined;
const testServer = () => (server ??= startCosmosTestServer());
afterAll(async () => (await server)?.stop());

interface Target {
  connection: CosmosConnection;
  drop(): Promise<void>;
}

const onTestServer = async (): Promise<Target> => {
  const connection = await (await testServer()).connect(newStreamId('consumers'));
  return { connection, drop: async () => void (await connection.database.delete()) };
};

const real = realCosmosSettings();
/** A database of its own per test on the real account (created and deleted): costly, so only when configured. */
const onRealAccount = async (): Promise<Target> =>
  connectReal({ ...real!, COSMOS_DATABASE: `${real!.COSMOS_DATABASE}-${newStreamId('consumers')}` });

const cosmosStores = (connection: CosmosConnection, onRequestCharge?: (op: string, ru: number) => void) =>
  new CosmosConsumerStores(
    { notifications: connection.notifications, stockDemand: connection.stockDemand },
    onRequestCharge,
  );

const cosmosBackend = (target: () => Promise<Target>) => async (): Promise<ConsumerBackend> => {
  const { connection, drop } = await target();
  return { open: () => cosmosStores(connection), dispose: drop };
};

consumersContract('Cosmos DB adapter, real SDK, @vercel/cosmosdb-server', cosmosBackend(onTestServer), {
  limits: testServerLimits,
  demandVersionScope: 'order and product',
});

if (real) {
  consumersContract(
    `Cosmos DB adapter, real SDK, account ${real.COSMOS_ENDPOINT}`,
    cosmosBackend(onRealAccount),
    {
      demandVersionScope: 'order and product',
    },
  );
} else {
  describe('consumer state contract: a real Cosmos DB account or emulator', () => {
    it.skip('runs when COSMOS_ENDPOINT and COSMOS_KEY are set (plus COSMOS_TLS_INSECURE=true for the emulator)', () => {});
  });
}

const sha256 = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** `isReal`: Cosmos DB proper (atomic batches), not the test server. */
function adapterDetails(name: string, isReal: boolean, target: () => Promise<Target>) {
  describe(`Cosmos DB consumer state, details: ${name}`, () => {
    let current: Target;
    let connection: CosmosConnection;
    beforeAll(async () => {
      current = await target();
      connection = current.connection;
    });
    afterAll(async () => current?.drop());

    /** Runs `before` once, just before the next batch on `container`'s items is sent. */
    const beforeNextBatch = (items: Items, before: () => Promise<void>) => {
      const original = items.batch.bind(items);
      items.batch = async (...args: Parameters<Items['batch']>) => {
        items.batch = original;
        await before();
        return original(...args);
      };
      return () => {
        items.batch = original;
      };
    };

    /**
     * Every document of one logical partition: a read feed (no filter, so no index is needed in the
     * point-read-only containers), filtered again here because the test server ignores the partition key.
     */
    const partitionOf = async (items: Items, path: 'productId' | 'orderId', value: string) =>
      (await items.readAll<Record<string, unknown>>({ partitionKey: value }).fetchAll()).resources.filter(
        (d) => d[path] === value,
      );

    it('keeps the demand counter, the version guard and the inbox entry of stock demand in the product’s partition, with hashed ids', async () => {
      const sku = newStreamId('sku');
      const order = newStreamId('order/with/slashes');
      const stores = cosmosStores(connection);
      expect(await stores.addDemand(ref('stockCheck', order, 3), sku, 2)).toBe('applied');
      const docs = await partitionOf(connection.stockDemand.items, 'productId', sku);
      const byKind = new Map(docs.map((d) => [d.kind, d]));
      expect([...byKind.keys()].sort()).toEqual(['demand', 'guard', 'inbox']);
      expect(byKind.get('demand')).toMatchObject({ id: 'demand', productId: sku, demanded: 2 });
      expect(byKind.get('guard')).toMatchObject({
        id: `guard.${sha256('stockCheck', order)}`,
        guardOrderId: order,
        version: 3,
      });
      expect(byKind.get('inbox')).toMatchObject({
        id: `inbox.${sha256('stockCheck', `${order}:3`)}`,
        eventId: `${order}:3`,
        outcome: 'applied',
      });
      expect((await connection.stockDemand.read()).resource?.partitionKey?.paths).toEqual(['/productId']);
    });

    it('keeps the version guard, the inbox entry and the notification in the order’s partition', async () => {
      const order = newStreamId('order');
      const stores = cosmosStores(connection);
      const n = {
        eventId: `${order}:4`,
        orderId: order,
        kind: 'order-accepted' as const,
        message: 'Your order has been accepted.',
        occurredAt: '2026-01-01T00:00:00.000Z',
        recordedAt: '2026-01-01T00:00:01.000Z',
      };
      expect(await stores.record(ref('customerNotifications', order, 4), n)).toBe('applied');
      const docs = await partitionOf(connection.notifications.items, 'orderId', order);
      expect(docs.map((d) => d.kind).sort()).toEqual(['guard', 'inbox', 'notification']);
      expect(docs.find((d) => d.kind === 'notification')).toMatchObject({ orderVersion: 4, notification: n });
      expect((await connection.notifications.read()).resource?.partitionKey?.paths).toEqual(['/orderId']);
    });

    it('decides again from a fresh read when another instance applies a newer version between its read and its batch (412): stale', async () => {
      const sku = newStreamId('sku');
      const order = newStreamId('order');
      const a = cosmosStores(connection);
      const b = cosmosStores(connection);
      await a.addDemand(ref('stockCheck', order, 1), sku, 1);
      let rival: unknown;
      const restore = beforeNextBatch(connection.stockDemand.items, async () => {
        rival = await b.addDemand(ref('stockCheck', order, 5), sku, 5);
      });
      try {
        expect(await a.addDemand(ref('stockCheck', order, 3), sku, 3)).toBe('stale');
      } finally {
        restore();
      }
      expect(rival).toBe('applied');
      expect((await a.get(sku))?.demanded).toBe(6);
    });

    it('decides again from a fresh read when another instance delivers the same notification between its read and its batch: duplicate', async () => {
      const order = newStreamId('order');
      const a = cosmosStores(connection);
      const b = cosmosStores(connection);
      const n = {
        eventId: `${order}:2`,
        orderId: order,
        kind: 'order-rejected' as const,
        message: 'We could not accept your order: out of stock.',
        occurredAt: '2026-01-01T00:00:00.000Z',
        recordedAt: '2026-01-01T00:00:01.000Z',
      };
      let rival: unknown;
      const restore = beforeNextBatch(connection.notifications.items, async () => {
        rival = await b.record(ref('customerNotifications', order, 2), n);
      });
      try {
        expect(await a.record(ref('customerNotifications', order, 2), n)).toBe('duplicate');
      } finally {
        restore();
      }
      expect(rival).toBe('applied');
      expect(await a.listForOrder(order)).toEqual([n]);
    });

    it(
      isReal
        ? 'rolls the guard and the counter back when the inbox entry of the same batch fails (atomic batch)'
        : 'test server only: an inbox entry failing after the counter and guard were written leaves them moved (no rollback there); the adapter reports a duplicate',
      async () => {
        const sku = newStreamId('sku');
        const order = newStreamId('order');
        const stores = cosmosStores(connection);
        await stores.addDemand(ref('stockCheck', order, 1), sku, 1);
        // An inbox entry of the event written behind the adapter's back after its reads: the batch's third
        // operation fails (409) after the counter and the guard.
        const restore = beforeNextBatch(connection.stockDemand.items, async () => {
          await connection.stockDemand.items.create({
            id: `inbox.${sha256('stockCheck', `${order}:2`)}`,
            kind: 'inbox',
            productId: sku,
            consumer: 'stockCheck',
            eventId: `${order}:2`,
            eventOrderId: order,
            orderVersion: 2,
            outcome: 'applied',
          });
        });
        try {
          expect(await stores.addDemand(ref('stockCheck', order, 2), sku, 4)).toBe('duplicate');
        } finally {
          restore();
        }
        expect((await stores.get(sku))?.demanded).toBe(isReal ? 1 : 5);
      },
    );

    it('reports the request charge (RU) of its operations to onRequestCharge', async () => {
      const charges: { operation: string; ru: number }[] = [];
      const stores = cosmosStores(connection, (operation, ru) => charges.push({ operation, ru }));
      const order = newStreamId('order');
      await stores.addDemand(ref('stockCheck', order, 1), newStreamId('sku'), 1);
      await stores.setAvailable(new Map([[newStreamId('sku'), 3]]));
      await stores.listForOrder(order);
      const operations = new Set(charges.map((c) => c.operation));
      for (const operation of [
        'stockDemand.read',
        'stockDemand.batch',
        'stockDemand.setAvailable',
        'notifications.list',
      ]) {
        expect(operations).toContain(operation);
      }
      expect(charges.filter((c) => c.operation === 'stockDemand.batch').every((c) => c.ru > 0)).toBe(true);
    });
  });
}

adapterDetails('@vercel/cosmosdb-server', false, onTestServer);
if (real) adapterDetails(`account ${real.COSMOS_ENDPOINT}`, true, onRealAccount);
