import { Items } from '@azure/cosmos';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosStockReservations } from '../../src/adapters/cosmos/cosmosStockReservations';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteStockReservations } from '../../src/adapters/sqlite/sqliteStockReservations';
import { InsufficientStockError } from '../../src/ports/stockReservations';
import {
  connectReal,
  CosmosTestServer,
  realCosmosSettings,
  startCosmosTestServer,
} from '../support/cosmosServer';
import { newStreamId } from './contract';
import { StockBackend, StockSettings, stockReservationsContract } from './stockReservationsContract';

/**
 * The stock reservation contract against both adapters: the embedded SQLite store (a database file in a
 * temporary folder, each instance on its own connection, as two processes would be) and Cosmos DB through
 * the real @azure/cosmos SDK against @vercel/cosmosdb-server (a fresh database per test), and a real
 * account or emulator as well when COSMOS_ENDPOINT and COSMOS_KEY are set.
 *
 * What the test server cannot prove: it runs a transactional batch's operations one after another and stops
 * at the first failure WITHOUT rolling back, so atomicity is never exercised there. It does run each batch
 * without interleaving and checks `ifMatch`, so the races show the etag guard and the adapter's retry, not
 * Cosmos DB atomicity: they are smoke tests there, and say so in their names.
 */

const testServerLimits = {
  atomicity:
    'the test server applies a batch without interleaving and checks etags but never rolls back, so this shows the etag guard, not Cosmos DB atomicity',
};

stockReservationsContract('embedded SQLite', async (): Promise<StockBackend> => {
  const dir = mkdtempSync(join(tmpdir(), 'orders-stock-'));
  const opened: SqliteStockReservations[] = [];
  return {
    open: (settings) => {
      const stock = new SqliteStockReservations(openDatabase(dir), settings);
      opened.push(stock);
      return stock;
    },
    dispose: async () => {
      for (const stock of opened) await stock.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

let server: Promise<CosmosTestServer> | undefined;
const testServer = () => (server ??= startCosmosTestServer());
afterAll(async () => (await server)?.stop());

interface Target {
  connection: CosmosConnection;
  drop(): Promise<void>;
}

const onTestServer = async (): Promise<Target> => {
  const connection = await (await testServer()).connect(newStreamId('stock'));
  return { connection, drop: async () => void (await connection.database.delete()) };
};

const real = realCosmosSettings();
/** A database of its own per test on the real account (created and deleted): costly, so only when configured. */
const onRealAccount = async (): Promise<Target> =>
  connectReal({ ...real!, COSMOS_DATABASE: `${real!.COSMOS_DATABASE}-${newStreamId('stock')}` });

const cosmosStock = (connection: CosmosConnection, settings: StockSettings) =>
  new CosmosStockReservations({
    reservations: connection.stockReservations,
    index: connection.reservationIndex,
    ...settings,
  });

const cosmosBackend = (target: () => Promise<Target>) => async (): Promise<StockBackend> => {
  const { connection, drop } = await target();
  return { open: (settings) => cosmosStock(connection, settings), dispose: drop };
};

stockReservationsContract(
  'Cosmos DB adapter, real SDK, @vercel/cosmosdb-server',
  cosmosBackend(onTestServer),
  {
    limits: testServerLimits,
  },
);

if (real) {
  stockReservationsContract(
    `Cosmos DB adapter, real SDK, account ${real.COSMOS_ENDPOINT}`,
    cosmosBackend(onRealAccount),
  );
} else {
  describe('stock reservations contract: a real Cosmos DB account or emulator', () => {
    it.skip('runs when COSMOS_ENDPOINT and COSMOS_KEY are set (plus COSMOS_TLS_INSECURE=true for the emulator)', () => {});
  });
}

const request = (orderId: string, productId: string, quantity: number) => ({
  reservationId: `${orderId}/${productId}`,
  orderId,
  productId,
  quantity,
});
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** `isReal`: Cosmos DB proper (atomic batches), not the test server. */
function adapterDetails(name: string, isReal: boolean, target: () => Promise<Target>) {
  describe(`Cosmos DB stock reservations, details: ${name}`, () => {
    let current: Target;
    let connection: CosmosConnection;
    beforeAll(async () => {
      current = await target();
      connection = current.connection;
    });
    afterAll(async () => current?.drop());

    /** Runs `before` once, just before the next batch of the stockReservations container is sent. */
    const beforeNextBatch = (before: () => Promise<void>) => {
      const items: Items = connection.stockReservations.items;
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

    it('keeps the stock document, the reservation and the attempt count in the product’s partition with hashed ids, and the reservation id → product in the index', async () => {
      const sku = newStreamId('sku');
      const stock = cosmosStock(connection, {
        levels: new Map([[sku, 5]]),
        failures: new Map([[sku, 1]]),
      });
      await expect(stock.reserve(request('o/1', sku, 2))).rejects.toThrow('simulated failure 1 of 1');
      await stock.reserve(request('o/1', sku, 2));
      // A read feed of the product's partition (the container indexes nothing, so no filtered query), filtered
      // again here because the test server ignores the partition key.
      const { resources } = await connection.stockReservations.items
        .readAll<Record<string, unknown>>({ partitionKey: sku })
        .fetchAll();
      const byKind = new Map(resources.filter((d) => d.productId === sku).map((d) => [d.kind, d]));
      expect([...byKind.keys()].sort()).toEqual(['attempts', 'reservation', 'stock']);
      expect(byKind.get('stock')).toMatchObject({ id: 'stock', productId: sku, reserved: 2, level: 5 });
      expect(byKind.get('reservation')).toMatchObject({
        id: `reservation.${sha256(`o/1/${sku}`)}`,
        reservationId: `o/1/${sku}`,
        status: 'reserved',
      });
      expect(byKind.get('attempts')).toMatchObject({ attempts: 2 });
      const entry = (
        await connection.reservationIndex.item(sha256(`o/1/${sku}`), sha256(`o/1/${sku}`)).read()
      ).resource;
      expect(entry).toMatchObject({ reservationId: `o/1/${sku}`, productId: sku });
      const definition = (await connection.stockReservations.read()).resource;
      expect(definition?.partitionKey?.paths).toEqual(['/productId']);
      expect((await connection.reservationIndex.read()).resource?.partitionKey?.paths).toEqual(['/id']);
    });

    it('decides again from a fresh read when another instance takes the last unit between its read and its batch (412): InsufficientStockError', async () => {
      const sku = newStreamId('sku');
      const settings = { levels: new Map([[sku, 2]]) };
      const a = cosmosStock(connection, settings);
      const b = cosmosStock(connection, settings);
      await a.reserve(request('o-0', sku, 1));
      let rival: unknown;
      const restore = beforeNextBatch(async () => {
        rival = await b.reserve(request('o-b', sku, 1));
      });
      try {
        await expect(a.reserve(request('o-a', sku, 1))).rejects.toBeInstanceOf(InsufficientStockError);
      } finally {
        restore();
      }
      expect(rival).toMatchObject({ status: 'reserved' });
      expect(await a.get(`o-a/${sku}`)).toBeUndefined();
      expect(await a.available(sku)).toBe(0);
    });

    it(
      isReal
        ? 'rolls the stock document back when the reservation in the same batch fails (atomic batch), and returns the reservation found'
        : 'test server only: a reservation create failing after the stock replace leaves the stock moved (no rollback there); the adapter returns the reservation found',
      async () => {
        const sku = newStreamId('sku');
        const stock = cosmosStock(connection, { levels: new Map([[sku, 5]]) });
        await stock.reserve(request('o-0', sku, 1));
        const reservationId = `o-1/${sku}`;
        const intruder = {
          id: `reservation.${sha256(reservationId)}`,
          kind: 'reservation',
          productId: sku,
          reservationId,
          orderId: 'o-1',
          quantity: 3,
          status: 'reserved',
          reservedAt: '2026-01-01T00:00:00.000Z',
        };
        // Written behind the adapter's back after its checks: the batch's second operation fails (409).
        const restore = beforeNextBatch(async () => {
          await connection.stockReservations.items.create(intruder);
        });
        try {
          expect(await stock.reserve(request('o-1', sku, 3))).toMatchObject({
            reservationId,
            reservedAt: intruder.reservedAt,
          });
        } finally {
          restore();
        }
        expect(await stock.available(sku)).toBe(isReal ? 4 : 1);
      },
    );

    it('refuses a quantity that is not a positive integer (RangeError) and writes nothing', async () => {
      const sku = newStreamId('sku');
      const stock = cosmosStock(connection, { levels: new Map([[sku, 5]]) });
      for (const quantity of [0, -2, 1.5, Number.NaN]) {
        await expect(stock.reserve(request('o-1', sku, quantity))).rejects.toBeInstanceOf(RangeError);
      }
      expect(await stock.get(`o-1/${sku}`)).toBeUndefined();
      expect(await stock.available(sku)).toBe(5);
    });

    it('reports the request charge (RU) of its operations to onRequestCharge', async () => {
      const sku = newStreamId('sku');
      const charges: { operation: string; ru: number }[] = [];
      const stock = new CosmosStockReservations({
        reservations: connection.stockReservations,
        index: connection.reservationIndex,
        levels: new Map([[sku, 5]]),
        onRequestCharge: (operation, ru) => charges.push({ operation, ru }),
      });
      await stock.reserve(request('o-1', sku, 1));
      await stock.release(`o-1/${sku}`);
      const operations = new Set(charges.map((c) => c.operation));
      for (const operation of ['stock.claim', 'stock.readStock', 'stock.reserve', 'stock.release']) {
        expect(operations).toContain(operation);
      }
      expect(charges.filter((c) => c.operation === 'stock.reserve').every((c) => c.ru > 0)).toBe(true);
    });
  });
}

adapterDetails('@vercel/cosmosdb-server', false, onTestServer);
if (real) adapterDetails(`account ${real.COSMOS_ENDPOINT}`, true, onRealAccount);
