import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { AzuriteBlob, startAzuriteBlob } from '../support/azurite';
import { copyToFolder, seedHistory, storeEvents } from './support';

// What this proves: the blob target through the real @azure/storage-blob SDK against Azurite (Put Blob, List
// Blobs, Get Blob, Delete Blob, Lease Blob for the roll lock), chosen by the settings as on Azure. What it cannot:
// the identity path (EVENT_LAKE__blobServiceUri with the managed identity and RBAC), which needs a real account.
describe('the event lake in a Blob Storage container (Azurite), chosen by the settings', () => {
  let azurite: AzuriteBlob;
  let dir: string;
  let services: Services;
  beforeAll(async () => {
    azurite = await startAzuriteBlob();
    dir = mkdtempSync(join(tmpdir(), 'lake-blob-'));
    services = createServices(
      readSettings({
        DATA_DIR: dir,
        EVENT_LAKE: 'blob',
        EVENT_LAKE_STORAGE: azurite.connectionSetting,
        EVENT_LAKE_CONTAINER: 'events',
      }),
    );
  });
  afterAll(async () => {
    await services?.close();
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a backfill writes Parquet blobs under events/date=.../ that DuckDB reads back as the store holds them, once', async () => {
    await seedHistory(services.store, 3);
    await services.lake.backfill(services.store);
    await seedHistory(services.store, 1, 3);
    await services.lake.backfill(services.store); // only the new order's events
    expect(services.lake.target.location).toMatch(/\/devstoreaccount1\/events$/);
    const blobs = (await services.lake.target.list('')).map((b) => b.path);
    expect(blobs).toContain('MLTable');
    expect(blobs.filter((b) => b.startsWith('_staging/'))).toEqual([]);
    const copy = await copyToFolder(services.lake.target);
    const instance = await DuckDBInstance.create(':memory:');
    const db = await instance.connect();
    try {
      const rows = (
        await db.runAndReadAll(
          `SELECT orderId, version, epoch_ms(occurredAt) AS occurred FROM read_parquet('${copy}/events/date=*/*.parquet') ORDER BY orderId, version`,
        )
      ).getRowObjectsJson();
      const expected = (await storeEvents(services.store))
        .map((e) => ({
          orderId: e.orderId,
          version: String(e.version),
          occurred: String(Date.parse(e.occurredAt)),
        }))
        .sort((a, b) =>
          a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : Number(a.version) - Number(b.version),
        );
      expect(rows.map((r) => ({ ...r, occurred: String(r.occurred) }))).toEqual(expected);
    } finally {
      db.closeSync();
      instance.closeSync();
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('the roll lock is a blob lease: a second roll waits for the first instead of running beside it', async () => {
    const order: string[] = [];
    let started!: () => void;
    const firstHolds = new Promise<void>((r) => (started = r));
    const first = services.lake.target.withLock(async () => {
      order.push('first:start');
      started();
      await new Promise((r) => setTimeout(r, 300));
      order.push('first:end');
    });
    await firstHolds;
    const second = services.lake.target.withLock(async () => void order.push('second'));
    await Promise.all([first, second]);
    expect(order).toEqual(['first:start', 'first:end', 'second']);
  });
});
