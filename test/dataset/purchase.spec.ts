import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetWriteError, mltableText, writeParquetTable } from '../../src/adapters/dataset/parquetDataset';
import { DatasetCard, schemaHash } from '../../src/analytics/dataset/card';
import { DatasetEvent } from '../../src/analytics/dataset/datasetEvent';
import {
  buildPurchaseDataset,
  featureRowsAt,
  parseDuration,
  purchaseColumns,
} from '../../src/analytics/dataset/purchase';
import { buildPurchaseFolder, parseArgs, UsageError } from '../../src/cli/dataset';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { OrderEvent } from '../../src/domain/events';

const day = 86_400_000;
const t0 = Date.UTC(2024, 0, 1);

/** A dataset event at day `d` (business time), recorded `late` days after, live unless `imported`. */
function ev(
  orderId: string,
  version: number,
  event: Omit<OrderEvent, 'occurredAt'>,
  d: number,
  late = 0,
  imported = false,
): DatasetEvent {
  const occurredAtMs = t0 + d * day;
  return {
    orderId,
    version,
    event: { ...event, occurredAt: new Date(occurredAtMs).toISOString() } as OrderEvent,
    occurredAtMs,
    recordedAtMs: imported ? t0 + 1000 * day : occurredAtMs + late * day,
    imported,
  };
}
const created = (customerId: string) => ({ type: 'OrderCreated' as const, data: { customerId } });
const added = {
  type: 'ProductAddedToOrder' as const,
  data: { productId: 'p1', quantity: 2, unitPrice: '5.25', currency: 'BRL' },
};
const submitted = {
  type: 'OrderSubmitted' as const,
  data: { total: '10.50', currency: 'BRL', lineCount: 1 },
};
const accepted = { type: 'OrderAccepted' as const, data: {} };

describe('purchase rows (pure)', () => {
  it('hides a live event recorded after t even though it occurred before t', () => {
    const events = [ev('o1', 1, created('c1'), 0), ev('o1', 2, added, 1), ev('o1', 3, submitted, 2, 5)];
    const atDay4 = featureRowsAt(events, t0 + 4 * day);
    expect(atDay4.find((r) => r.entity === 'customer')).toMatchObject({ c_orders: 1, c_orders_submitted: 0 });
    expect(atDay4.find((r) => r.entity === 'order')).toMatchObject({
      o_status: 'draft',
      o_units: 2,
      o_value: 10.5,
    });
    const atDay7 = featureRowsAt(events, t0 + 7 * day);
    expect(atDay7.find((r) => r.entity === 'customer')).toMatchObject({
      c_orders_submitted: 1,
      c_submitted_value: 10.5,
    });
    expect(atDay7.find((r) => r.entity === 'order')).toMatchObject({ o_status: 'submitted' });
  });

  it('takes imported history as known at its business time and marks the rows', () => {
    const events = [ev('o1', 1, created('c1'), 0, 0, true), ev('o1', 2, submitted, 0, 0, true)];
    const [customer, order] = featureRowsAt(events, t0 + day);
    expect(customer).toMatchObject({ entity: 'customer', imported_history: true, c_orders_submitted: 1 });
    expect(order).toMatchObject({ entity: 'order', imported_history: true, o_status: 'submitted' });
  });

  it('labels a purchase in (t, t + horizon] and drops observation times whose window passes the end of the data', () => {
    const events = [
      ev('o1', 1, created('c1'), 0),
      ev('o1', 2, submitted, 0),
      ev('o1', 3, accepted, 3),
      ev('o2', 1, created('c1'), 10),
      ev('o2', 2, submitted, 20),
    ];
    const { rows, summary } = buildPurchaseDataset(events, {
      horizonMs: 7 * day,
      stepMs: day,
      from: t0,
      to: t0 + 30 * day,
    });
    const customerAt = (d: number) =>
      rows.find((r) => r.entity === 'customer' && r.observation_time === t0 + d * day);
    expect(customerAt(0)?.label).toBe(true); // accepted on day 3
    expect(customerAt(3)?.label).toBe(false); // (3, 10]: the window is open on the left
    expect(customerAt(12)?.label).toBe(false); // (12, 19]
    expect(customerAt(13)?.label).toBe(true); // (13, 20]: submitted on day 20
    // the data ends on day 20: t + 7 days ≤ day 20 keeps t ≤ day 13; days 14..30 are dropped
    expect(summary).toMatchObject({
      observationTimes: 14,
      droppedObservationTimes: 17,
      lastObservation: t0 + 13 * day,
    });
    expect(summary.positives).toBe(rows.filter((r) => r.label).length);
    // o2 is a draft from day 10 on; its order row's label is its own submission on day 20
    const o2 = rows.filter((r) => r.order_id === 'o2');
    expect(o2.map((r) => [(r.observation_time - t0) / day, r.label])).toEqual([
      [10, false],
      [11, false],
      [12, false],
      [13, true],
    ]);
  });

  it('refuses durations it cannot read', () => {
    expect(parseDuration('7d')).toBe(7 * day);
    expect(parseDuration('2w')).toBe(14 * day);
    for (const bad of ['7', '0d', '-1d', '1.5d', 'P7D']) expect(() => parseDuration(bad)).toThrow(RangeError);
  });
});

describe('npm run dataset arguments', () => {
  it('reads horizon, step, time range and output', () => {
    expect(
      parseArgs([
        'purchase',
        '--horizon',
        '7d',
        '--step',
        '1d',
        '--from',
        '2017-01-01',
        '--to',
        '2018-01-01T00:00:00Z',
        '--output',
        'out',
      ]),
    ).toEqual({
      kind: 'purchase',
      horizonMs: 7 * day,
      stepMs: day,
      from: Date.UTC(2017, 0, 1),
      to: Date.UTC(2018, 0, 1),
      output: 'out',
    });
  });

  it.each([
    [[], /no dataset/],
    [['funnel', '--horizon', '7d'], /unknown dataset/],
    [['purchase'], /--horizon is required/],
    [['purchase', '--horizon', 'week'], /--horizon/],
    [['purchase', '--horizon', '7d', '--from', '2018-01-01T00:00:00'], /with a zone/],
    [['purchase', '--horizon', '7d', '--from', '2018-02-01', '--to', '2018-01-01'], /after/],
    [['purchase', '--horizon', '7d', '--bogus'], /bogus/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('dataset folder from a live store (SQLite, DuckDB Parquet)', () => {
  let dir: string;
  let services: Services;
  let folder: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataset-live-'));
    services = createServices(readSettings({ DATA_DIR: dir, EVENT_STORE: 'sqlite', PORT: '0' }));
    const day0 = Date.now() - 30 * day;
    const at = (d: number) => new Date(day0 + d * day).toISOString();
    const meta = { actor: 'user:c1' };
    await services.store.append('o1', 0, [
      {
        type: 'OrderCreated',
        schemaVersion: 1,
        data: { customerId: 'c1' },
        occurredAt: at(0),
        metadata: meta,
      },
      {
        type: 'OrderSubmitted',
        schemaVersion: 1,
        data: { total: '1.00', lineCount: 0 },
        occurredAt: at(0),
        metadata: meta,
      },
      // business time two days ahead: the data (what is known) ends then
      { type: 'OrderAccepted', schemaVersion: 1, data: {}, occurredAt: at(32), metadata: meta },
    ]);
    await services.store.append('o2', 0, [
      {
        type: 'OrderCreated',
        schemaVersion: 2,
        data: { customerId: "c'2" },
        occurredAt: at(1),
        metadata: meta,
      },
      { type: 'SomethingNew', schemaVersion: 1, data: {}, occurredAt: at(1), metadata: meta },
    ]);
    folder = path.join(dir, 'out');
    // live events are known from when they were recorded (just now), whatever their business time: observe hourly
    // from an hour after that, with a one-day horizon, up to the end of the data (day 32)
    await buildPurchaseFolder(
      services.store,
      { kind: 'purchase', horizonMs: day, from: Date.now() + 3_600_000, stepMs: 3_600_000 },
      folder,
      'test',
    );
  });

  afterAll(async () => {
    await services?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes Parquet that DuckDB reads back with the columns, types and rows of the card', async () => {
    const card = JSON.parse(readFileSync(path.join(folder, 'dataset-card.json'), 'utf8')) as DatasetCard;
    expect(card.schemaHash).toBe(schemaHash());
    expect(card.source).toMatchObject({ events: 4, importedEvents: 0, unknownEvents: 1 });
    const db = await DuckDBInstance.create(':memory:');
    const duck = await db.connect();
    try {
      const file = path.join(folder, 'data.parquet');
      const rows = (
        await duck.runAndReadAll(
          `SELECT entity, customer_id, order_id, imported_history FROM read_parquet('${file}') ORDER BY ALL`,
        )
      ).getRowObjectsJS();
      expect(rows.length).toBe(card.rows);
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.customer_id))).toEqual(new Set(['c1', "c'2"]));
      expect(rows.every((r) => r.imported_history === false)).toBe(true);
      const types = (
        await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)
      ).getRowObjectsJS();
      const duckType = {
        timestamp: 'TIMESTAMP WITH TIME ZONE',
        string: 'VARCHAR',
        boolean: 'BOOLEAN',
        integer: 'BIGINT',
        double: 'DOUBLE',
      };
      expect(types.map((c) => [c.column_name, c.column_type])).toEqual(
        purchaseColumns.map((c) => [c.name, duckType[c.type]]),
      );
    } finally {
      duck.closeSync();
      db.closeSync();
    }
    expect(readFileSync(path.join(folder, 'MLTable'), 'utf8')).toBe(mltableText());
    expect(readFileSync(path.join(folder, 'README.md'), 'utf8')).toContain('## Leakage rule');
  });

  it('refuses a value that does not fit its column and leaves no file', async () => {
    const file = path.join(dir, 'bad.parquet');
    await expect(
      writeParquetTable(file, [{ name: 'n', type: 'integer', nullable: false }], [{ n: 1.5 }]),
    ).rejects.toThrow(DatasetWriteError);
    await expect(
      writeParquetTable(file, [{ name: 'n', type: 'integer', nullable: false }], [{ n: null }]),
    ).rejects.toThrow(/not nullable/);
    expect(() => readFileSync(file)).toThrow();
  });
});
