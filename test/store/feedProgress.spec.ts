import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosFeedProgress } from '../../src/adapters/cosmos/cosmosFeedProgress';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteFeedProgress } from '../../src/adapters/sqlite/sqliteFeedProgress';
import { FeedProgressStore } from '../../src/ports/feedProgress';
import { CosmosTestServer, startCosmosTestServer } from '../support/cosmosServer';
import { newStreamId } from './contract';

/**
 * The change-feed progress behind the overview's lag (src/ports/feedProgress.ts), on both adapters: the
 * embedded SQLite table, and the leases container through the real SDK against @vercel/cosmosdb-server.
 */

let server: CosmosTestServer;
let connection: CosmosConnection;
beforeAll(async () => {
  server = await startCosmosTestServer();
  connection = await server.connect();
});
afterAll(async () => server?.stop());

function feedProgressSuite(name: string, open: () => FeedProgressStore) {
  describe(`change-feed progress: ${name}`, () => {
    let progress: FeedProgressStore;
    beforeAll(() => {
      progress = open();
    });

    it('keeps the newest recordedAt per consumer: a redelivered older batch does not move it back', async () => {
      const a = newStreamId('consumer');
      const b = newStreamId('consumer');
      await progress.record(a, '2026-01-01T00:00:01.000Z');
      await progress.record(a, '2026-01-01T00:00:03.000Z');
      await progress.record(a, '2026-01-01T00:00:02.000Z');
      await progress.record(b, '2026-01-01T00:00:05.000Z');
      const mine = (await progress.list()).filter((p) => p.consumer === a || p.consumer === b);
      expect(mine.map((p) => [p.consumer, p.lastRecordedAt])).toEqual([
        [a, '2026-01-01T00:00:03.000Z'],
        [b, '2026-01-01T00:00:05.000Z'],
      ]);
      for (const p of mine) expect(Date.now() - Date.parse(p.processedAt)).toBeLessThan(10 * 60_000);
    });

    it('lists consumers by name', async () => {
      const names = (await progress.list()).map((p) => p.consumer);
      expect(names).toEqual([...names].sort());
    });
  });
}

feedProgressSuite('embedded SQLite', () => new SqliteFeedProgress(openDatabase(':memory:')));
feedProgressSuite(
  'Cosmos DB leases container (@vercel/cosmosdb-server)',
  () => new CosmosFeedProgress(connection.leases),
);
