import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosJourneyStore } from '../../src/adapters/cosmos/cosmosJourneyStore';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteJourneyStore } from '../../src/adapters/sqlite/sqliteJourneyStore';
import { JourneyStore, OrderJourney } from '../../src/ports/journeyStore';
import { CosmosTestServer, startCosmosTestServer } from '../support/cosmosServer';
import { newStreamId } from './contract';

/**
 * The order-journey store the funnel and process map read (src/ports/journeyStore.ts), held to one contract on
 * both adapters: SQLite, and the `orderJourneys` container through the real SDK against
 * @vercel/cosmosdb-server.
 */

let server: CosmosTestServer;
let connection: CosmosConnection;
beforeAll(async () => {
  server = await startCosmosTestServer();
  connection = await server.connect();
});
afterAll(async () => server?.stop());

const journey = (orderId: string, version: number): OrderJourney => ({
  orderId,
  customerId: 'c-1',
  customerState: 'SP',
  currency: 'BRL',
  version,
  events: Array.from({ length: version }, (_, k) => ({
    type: k === 0 ? 'OrderCreated' : 'ProductAddedToOrder',
    version: k + 1,
    occurredAt: new Date(Date.UTC(2021, 0, 1, k)).toISOString(),
    recordedAt: new Date(Date.UTC(2026, 0, 1, k)).toISOString(),
  })),
});

function journeyStoreSuite(name: string, open: () => JourneyStore) {
  describe(`order journeys: ${name}`, () => {
    let store: JourneyStore;
    beforeAll(() => {
      store = open();
    });

    it('reads an unknown order as undefined, and a put journey back whole', async () => {
      const id = newStreamId('journey');
      expect(await store.get(id)).toBeUndefined();
      await store.put(journey(id, 2));
      expect(await store.get(id)).toEqual(journey(id, 2));
    });

    it('keeps the newest version: an equal or older put (a redelivered batch) changes nothing', async () => {
      const id = newStreamId('journey');
      await store.put(journey(id, 3));
      await store.put(journey(id, 1));
      await store.put({ ...journey(id, 3), customerId: 'someone-else' });
      expect(await store.get(id)).toEqual(journey(id, 3));
      await store.put(journey(id, 4));
      expect((await store.get(id))?.version).toBe(4);
    });

    it('lets concurrent puts of one order end at the highest version', async () => {
      const id = newStreamId('journey');
      await Promise.all([5, 2, 4, 1, 3].map((v) => store.put(journey(id, v))));
      expect((await store.get(id))?.version).toBe(5);
    });

    it('yields every journey once from all(), across pages', async () => {
      const ids = Array.from({ length: 1205 }, () => newStreamId('all'));
      for (let k = 0; k < ids.length; k += 50)
        await Promise.all(ids.slice(k, k + 50).map((id) => store.put(journey(id, 1))));
      const seen = new Map<string, number>();
      for await (const j of store.all()) seen.set(j.orderId, (seen.get(j.orderId) ?? 0) + 1);
      for (const id of ids) expect(seen.get(id), id).toBe(1);
    });
  });
}

journeyStoreSuite('embedded SQLite', () => new SqliteJourneyStore(openDatabase(':memory:')));
journeyStoreSuite('Cosmos DB (@vercel/cosmosdb-server)', () => new CosmosJourneyStore(connection.journeys));
