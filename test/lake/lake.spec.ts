import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HyparquetEncoder } from '../../src/adapters/lake/hyparquetEncoder';
import { FolderLakeTarget } from '../../src/adapters/lake/folderLakeTarget';
import { manifestPath, stagingPrefix } from '../../src/analytics/lake/layout';
import { EventLake, EventLakeOptions } from '../../src/app/eventLake';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { currentSchemaVersion } from '../../src/domain/events';
import { LakeTarget } from '../../src/ports/eventLake';
import { copyToFolder, crashingOnce, duck, seedHistory, storeEvents } from './support';

let dir: string;
let services: Services;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lake-'));
  services = createServices(readSettings({ DATA_DIR: dir }));
});
afterEach(async () => {
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const options: EventLakeOptions = { rollBytes: 64 * 1024 ** 2, rollMs: 3_600_000, maxRowsPerFile: 1_000_000 };
const lakeOn = (target: LakeTarget, o: Partial<EventLakeOptions> = {}) =>
  new EventLake(target, new HyparquetEncoder(), { ...options, ...o });
const glob = (root: string, table = 'events') => `'${join(root, table)}/date=*/*.parquet'`;

/**
 * Reads the `events` table back with DuckDB and checks it against the store, event by event: every event once,
 * upcast, under the UTC date of its business time, times equal to the instant, metadata and data as stored.
 */
async function expectLakeEqualsStore(root: string): Promise<void> {
  const expected = await storeEvents(services.store);
  const db = await duck();
  try {
    const rows = await db.rows(
      `SELECT orderId, version, type, schemaVersion, storedSchemaVersion, epoch_ms(occurredAt) AS occurred,
              epoch_ms(recordedAt) AS recorded, correlationId, causationId, traceparent, actor, data::VARCHAR AS data,
              CAST(date AS VARCHAR) AS date
       FROM read_parquet(${glob(root)}, hive_partitioning = true) ORDER BY orderId, version`,
    );
    const want = expected
      .map((e) => ({
        orderId: e.orderId,
        version: String(e.version),
        type: e.type,
        schemaVersion: currentSchemaVersion[e.type as keyof typeof currentSchemaVersion],
        storedSchemaVersion: e.schemaVersion,
        occurred: String(Date.parse(e.occurredAt)),
        recorded: String(Date.parse(e.recordedAt)),
        correlationId: e.metadata.correlationId ?? null,
        causationId: e.metadata.causationId ?? null,
        traceparent: e.metadata.traceparent ?? null,
        actor: e.metadata.actor ?? null,
        data: JSON.stringify(e.data),
        date: new Date(Date.parse(e.occurredAt)).toISOString().slice(0, 10),
      }))
      .sort((a, b) =>
        a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : Number(a.version) - Number(b.version),
      );
    expect(rows.map((r) => ({ ...r, occurred: String(r.occurred), recorded: String(r.recorded) }))).toEqual(
      want,
    );
  } finally {
    db.close();
  }
}

/** The Parquet files under a folder lake, as paths relative to it. */
async function parquetFiles(target: LakeTarget): Promise<string[]> {
  return (await target.list(''))
    .map((f) => f.path)
    .filter((p) => p.endsWith('.parquet'))
    .sort();
}

describe('the event lake in a folder, read back with DuckDB', () => {
  it('a backfill writes every event of the log once, upcast, under the UTC date of its business time', async () => {
    await seedHistory(services.store, 4);
    const root = join(dir, 'lake');
    const result = await services.lake.backfill(services.store);
    expect(result.manifest.events).toBe(16);
    await expectLakeEqualsStore(root);
    // The stored v1 OrderCreated reads as v2; +02:00 just after midnight lands on the day before in UTC.
    const db = await duck();
    try {
      const [created] = await db.rows(
        `SELECT schemaVersion, storedSchemaVersion, CAST(date AS VARCHAR) AS date FROM read_parquet(${glob(root)}, hive_partitioning = true)
         WHERE orderId = 'order-1' AND version = 1`,
      );
      expect(created).toEqual({ schemaVersion: 2, storedSchemaVersion: 1, date: '2017-02-10' });
    } finally {
      db.close();
    }
  });

  it('writes the Parquet types the lake promises: UTC-adjusted timestamps, money as DECIMAL, data as JSON', async () => {
    await seedHistory(services.store, 2);
    const root = join(dir, 'lake');
    await services.lake.backfill(services.store);
    const db = await duck();
    try {
      const file = (await parquetFiles(services.lake.target)).find((p) =>
        p.startsWith('types/ProductAddedToOrder/'),
      )!;
      const schema = await db.rows(
        `SELECT name, type, logical_type FROM parquet_schema('${join(root, file)}') WHERE name IN ('occurredAt', 'unitPrice', 'quantity')`,
      );
      const byName = new Map(schema.map((r) => [r.name, r]));
      expect(String(byName.get('occurredAt')!.logical_type)).toMatch(
        /TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS/,
      );
      expect(String(byName.get('unitPrice')!.logical_type)).toMatch(/DecimalType\(scale=6, precision=22\)/);
      const lines = await db.rows(
        `SELECT orderId, version, productId, quantity, unitPrice, typeof(unitPrice) AS moneyType, typeof(occurredAt) AS timeType,
                currency, sellerId
         FROM read_parquet(${glob(root, 'types/ProductAddedToOrder')}) ORDER BY orderId, version`,
      );
      expect(lines).toEqual([
        {
          orderId: 'order-0',
          version: '2',
          productId: 'sku-0',
          quantity: '2',
          unitPrice: '199.900000',
          moneyType: 'DECIMAL(22,6)',
          timeType: 'TIMESTAMP WITH TIME ZONE',
          currency: 'BRL',
          sellerId: 'seller-1',
        },
        {
          orderId: 'order-0',
          version: '3',
          productId: 'sku-x0',
          quantity: '1',
          unitPrice: '1500.000000',
          moneyType: 'DECIMAL(22,6)',
          timeType: 'TIMESTAMP WITH TIME ZONE',
          currency: 'JPY',
          sellerId: null,
        },
        {
          orderId: 'order-1',
          version: '2',
          productId: 'sku-1',
          quantity: '2',
          unitPrice: '199.900000',
          moneyType: 'DECIMAL(22,6)',
          timeType: 'TIMESTAMP WITH TIME ZONE',
          currency: 'BRL',
          sellerId: 'seller-1',
        },
        {
          orderId: 'order-1',
          version: '3',
          productId: 'sku-x1',
          quantity: '1',
          unitPrice: '1500.000000',
          moneyType: 'DECIMAL(22,6)',
          timeType: 'TIMESTAMP WITH TIME ZONE',
          currency: 'JPY',
          sellerId: null,
        },
      ]);
      const [json] = await db.rows(`SELECT typeof(data) AS t FROM read_parquet(${glob(root)}) LIMIT 1`);
      expect(json.t).toBe('JSON');
      // Every type table holds exactly the events of its type.
      const [counts] = await db.rows(
        `SELECT (SELECT count(*) FROM read_parquet(${glob(root, 'types/OrderSubmitted')})) AS submitted,
                (SELECT count(*) FROM read_parquet(${glob(root)}) WHERE type = 'OrderSubmitted') AS inEvents`,
      );
      expect(counts.submitted).toBe(counts.inEvents);
    } finally {
      db.close();
    }
  });

  it('puts an MLTable at the root that reads the events table as Parquet with the date from the folder names', async () => {
    await seedHistory(services.store, 1);
    await services.lake.backfill(services.store);
    const text = readFileSync(join(dir, 'lake', 'MLTable'), 'utf8');
    expect(text).toMatch(/^type: mltable$/m);
    expect(text).toMatch(/^ {2}- pattern: \.\/events\/date=\*\/\*\.parquet$/m);
    expect(text).toMatch(/^ {2}- read_parquet:$/m);
    expect(text).toMatch(
      /^ {2}- extract_columns_from_partition_format: '\/date=\{date:yyyy-MM-dd\}\/\{part_file\}\.parquet'$/m,
    );
    expect(existsSync(join(dir, 'lake', 'types', 'OrderSubmitted', 'MLTable'))).toBe(true);
  });

  it('a second backfill writes nothing, and a later one only the new events', async () => {
    await seedHistory(services.store, 3);
    const first = await services.lake.backfill(services.store);
    const files = await parquetFiles(services.lake.target);
    const second = await services.lake.backfill(services.store);
    expect(second.skipped).toBe(second.commits);
    expect(second.rolls.every((r) => r.events === 0)).toBe(true);
    expect(await parquetFiles(services.lake.target)).toEqual(files);
    await seedHistory(services.store, 2, 3);
    const third = await services.lake.backfill(services.store);
    expect(third.rolls.reduce((n, r) => n + r.events, 0)).toBe(8);
    expect(third.manifest.events).toBe(first.manifest.events + 8);
    await expectLakeEqualsStore(join(dir, 'lake'));
  });

  it('rolls by size: batches stay staged until they hold rollBytes, then become one file per table and date', async () => {
    await seedHistory(services.store, 6);
    const target = new FolderLakeTarget(join(dir, 'lake'));
    const staged = (await storeEvents(services.store)).length;
    const page = await services.store.readFeed(undefined, 1000);
    // One commit per batch, as small change-feed batches would come; the threshold is a few batches' worth.
    const lake = lakeOn(target, { rollBytes: 4000 });
    let rolls = 0;
    for (const commit of page.commits) if (await lake.consume([commit])) rolls++;
    await lake.roll();
    expect(rolls).toBeGreaterThan(0);
    expect(rolls).toBeLessThan(page.commits.length);
    const manifest = await lake.manifest();
    expect(manifest.events).toBe(staged);
    expect(manifest.files.filter((f) => f.table === 'events').length).toBeLessThan(staged);
    expect(await target.list(stagingPrefix)).toEqual([]);
  });

  it('rolls by time: a batch that arrives after rollMs rolls what was staged', async () => {
    await seedHistory(services.store, 2);
    let now = Date.parse('2026-01-01T00:00:00Z');
    const target = new FolderLakeTarget(join(dir, 'lake'));
    const lake = lakeOn(target, { rollMs: 60_000, now: () => now });
    const { commits } = await services.store.readFeed(undefined, 1000);
    expect(await lake.consume(commits.slice(0, 3))).toBeUndefined();
    now = Date.now() + 61_000; // staged files carry the real mtime: a minute past it
    const roll = await lake.consume(commits.slice(3));
    expect(roll?.events).toBe(8);
  });
});

describe('the event lake under redelivery and crashes', () => {
  /**
   * Runs the lake as the change-feed trigger does: read the checkpoint, read a page after it, hand it to the
   * consumer, move the checkpoint only when the consumer returned. `crashBeforeCheckpoint` throws after the
   * consumer returned, as a host dying between the function's return and the lease update would.
   */
  async function deliver(lake: EventLake, pageSize: number, crashBeforeCheckpoint = false): Promise<boolean> {
    const lease = 'eventLake-test';
    const page = await services.store.readFeed(await services.store.getCheckpoint(lease), pageSize);
    if (page.commits.length === 0) return false;
    await lake.consume(page.commits);
    if (crashBeforeCheckpoint) throw new Error('simulated crash before the checkpoint');
    await services.store.setCheckpoint(lease, page.position);
    return true;
  }

  it('a crash between the Parquet files and the manifest, then a re-run, leaves every event exactly once', async () => {
    await seedHistory(services.store, 5);
    const folder = new FolderLakeTarget(join(dir, 'lake'));
    // Every batch rolls (rollMs 0); the first roll dies after writing its Parquet files, before the manifest.
    const crashing = crashingOnce(folder, manifestPath);
    const lake = lakeOn(crashing, { rollMs: 0 });
    await expect(deliver(lake, 4)).rejects.toThrow(/simulated crash/);
    expect(crashing.crashed).toBe(true);
    expect((await parquetFiles(folder)).length).toBeGreaterThan(0); // the orphans of the crashed roll
    // The trigger retries the same batch (the lease did not move), then goes on.
    while (await deliver(lake, 4));
    await expectLakeEqualsStore(join(dir, 'lake'));
    // Nothing on disk that the manifest does not list: the crashed roll's files were replaced, not added to.
    const manifest = await lake.manifest();
    expect(await parquetFiles(folder)).toEqual(manifest.files.map((f) => f.path).sort());
    expect(await folder.list(stagingPrefix)).toEqual([]);
  });

  it('a crash after the roll but before the checkpoint: the redelivered batch adds no row', async () => {
    await seedHistory(services.store, 4);
    const lake = lakeOn(new FolderLakeTarget(join(dir, 'lake')), { rollMs: 0 });
    await expect(deliver(lake, 5, true)).rejects.toThrow(/before the checkpoint/);
    expect((await lake.manifest()).events).toBeGreaterThan(0);
    while (await deliver(lake, 5));
    await expectLakeEqualsStore(join(dir, 'lake'));
    const redelivered = await lake.roll();
    expect(redelivered.events).toBe(0);
  });

  it('a batch redelivered cut differently (overlapping the last one) adds no row', async () => {
    await seedHistory(services.store, 4);
    const lake = lakeOn(new FolderLakeTarget(join(dir, 'lake')), { rollMs: 0 });
    const { commits } = await services.store.readFeed(undefined, 1000);
    await lake.consume(commits.slice(0, 7));
    await lake.consume(commits.slice(3, 10));
    await lake.consume(commits.slice(5));
    await lake.consume(commits);
    await expectLakeEqualsStore(join(dir, 'lake'));
    expect((await lake.manifest()).events).toBe((await storeEvents(services.store)).length);
  });
});

describe('the lake is readable wherever it was written', () => {
  it('a copy of the folder lake reads the same (the files are self-contained)', async () => {
    await seedHistory(services.store, 2);
    await services.lake.backfill(services.store);
    const copy = await copyToFolder(services.lake.target);
    try {
      await expectLakeEqualsStore(copy);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
