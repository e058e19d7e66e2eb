import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HyparquetEncoder } from '../adapters/lake/hyparquetEncoder';
import { eventsRow, LakeEvent, lakeEventsOf } from '../analytics/lake/rows';
import { eventsTable } from '../analytics/lake/tables';
import { toRecord } from '../app/orderService';
import type { Services } from '../composition/services';
import { CommitDocument } from '../ports/eventStore';

/** A figure, in the shape of `Measurement` in ./bench.ts. */
interface Figure {
  name: string;
  unit: string;
  value: number;
  details: Record<string, unknown>;
}

/** `rows` events as the lake maps them: orders of one OrderCreated and four lines, over a year of dates. */
function sampleEvents(rows: number): LakeEvent[] {
  const commits: CommitDocument[] = [];
  const start = Date.parse('2017-01-01T00:00:00Z');
  for (let k = 0; k * 5 < rows; k++) {
    const at = (m: number) => new Date(start + k * 317_000 + m * 60_000).toISOString();
    const metadata = {
      actor: `user:c-${k}`,
      correlationId: `corr-${k}`,
      traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
    };
    commits.push({
      id: '0000000000',
      orderId: `order-${k}`,
      kind: 'commit',
      i: 0,
      n: 5,
      recordedAt: at(10),
      e: [
        toRecord({ type: 'OrderCreated', data: { customerId: `c-${k}` }, occurredAt: at(0) }, metadata),
        ...[1, 2, 3, 4].map((j) =>
          toRecord(
            {
              type: 'ProductAddedToOrder',
              data: {
                productId: `sku-${(k * 7 + j) % 3000}`,
                quantity: j,
                unitPrice: '19.90',
                currency: 'BRL',
                sellerId: 's-1',
              },
              occurredAt: at(j),
            },
            metadata,
          ),
        ),
      ],
    });
  }
  return lakeEventsOf(commits).slice(0, rows);
}

/** The part of parquet-wasm's Node build the bench uses (its `exports` map is out of reach of this tsconfig). */
interface ParquetWasm {
  Table: { fromIPCStream(ipc: Uint8Array): unknown };
  WriterPropertiesBuilder: new () => { setCompression(c: unknown): { build(): unknown } };
  Compression: { SNAPPY: unknown };
  writeParquet(table: unknown, properties: unknown): Uint8Array;
}

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await f();
  return (performance.now() - started) / 1000;
};

/**
 * The event lake's Parquet writing, measured on the same `rows` rows of the `events` table in one run:
 * - the lake's writer (hyparquet-writer, through the lake's encoder);
 * - DuckDB's own `COPY ... TO` Parquet writer from a DuckDB table already holding the rows (the reference: no
 *   JavaScript on the way), and the same preceded by loading the rows through DuckDB's appender (what writing
 *   the lake with DuckDB would cost);
 * - parquet-wasm with apache-arrow (devDependencies; skipped when absent);
 * - the lake end to end: a backfill of a store holding `rows` events (stage, roll, files in a folder).
 * Each writer runs once for warm-up, then is timed over `runs` runs; figures are rows per second.
 */
export async function lakeWriters(services: Services, rows = 100_000, runs = 3): Promise<Figure[]> {
  const events = sampleEvents(rows);
  const table = events.map(eventsRow);
  const figures: Figure[] = [];
  const add = (name: string, seconds: number, details: Record<string, unknown> = {}) =>
    figures.push({
      name: `lake Parquet: ${name}`,
      unit: 'rows/s',
      value: Math.round(rows / seconds),
      details: { rows, runs, seconds: Math.round(seconds * 1000) / 1000, ...details },
    });
  const repeat = async (f: () => Promise<unknown>) => {
    await f();
    return (
      (await timed(async () => {
        for (let r = 0; r < runs; r++) await f();
      })) / runs
    );
  };

  const encoder = new HyparquetEncoder();
  let bytes = 0;
  add(
    'hyparquet-writer (the lake writer)',
    await repeat(async () => (bytes = (await encoder.encode(eventsTable.columns, table)).byteLength)),
    { bytes },
  );

  const dir = mkdtempSync(join(tmpdir(), 'lake-bench-'));
  try {
    const duckdb = await import('@duckdb/node-api');
    const instance = await duckdb.DuckDBInstance.create(':memory:');
    const db = await instance.connect();
    const load = async () => {
      await db.run(
        `CREATE OR REPLACE TABLE events (orderId VARCHAR NOT NULL, version BIGINT NOT NULL, type VARCHAR NOT NULL,
         schemaVersion INTEGER NOT NULL, storedSchemaVersion INTEGER NOT NULL, occurredAt TIMESTAMPTZ NOT NULL,
         recordedAt TIMESTAMPTZ NOT NULL, correlationId VARCHAR, causationId VARCHAR, traceparent VARCHAR,
         actor VARCHAR, data JSON NOT NULL)`,
      );
      const a = await db.createAppender('events');
      const text = (v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));
      for (const e of events) {
        a.appendVarchar(e.orderId);
        a.appendBigInt(BigInt(e.version));
        a.appendVarchar(e.type);
        a.appendInteger(e.schemaVersion);
        a.appendInteger(e.storedSchemaVersion);
        a.appendTimestampTZ(new duckdb.DuckDBTimestampTZValue(BigInt(e.occurredAt) * 1000n));
        a.appendTimestampTZ(new duckdb.DuckDBTimestampTZValue(BigInt(e.recordedAt) * 1000n));
        text(e.correlationId);
        text(e.causationId);
        text(e.traceparent);
        text(e.actor);
        a.appendVarchar(e.data);
        a.endRow();
      }
      a.closeSync();
    };
    const copy = async () => db.run(`COPY events TO '${join(dir, 'duckdb.parquet')}' (FORMAT parquet)`);
    await load();
    const copySeconds = await repeat(copy);
    add("DuckDB COPY ... TO (DuckDB's own writer, rows already in DuckDB)", copySeconds, {
      bytes: statSync(join(dir, 'duckdb.parquet')).size,
    });
    add(
      'DuckDB appender + COPY ... TO (rows from JavaScript)',
      await repeat(async () => (await load(), await copy())),
    );
    db.closeSync();
    instance.closeSync();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    // devDependencies: measured where installed (the bench), never loaded by the app.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const arrow = require('apache-arrow') as typeof import('apache-arrow');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require('parquet-wasm/node') as ParquetWasm;
    let size = 0;
    const write = async () => {
      const utc = new arrow.TimestampMillisecond('UTC');
      const ts = (k: 'occurredAt' | 'recordedAt') =>
        arrow.vectorFromArray(
          events.map((e) => e[k]),
          utc,
        );
      const t = new arrow.Table({
        orderId: arrow.vectorFromArray(
          events.map((e) => e.orderId),
          new arrow.Utf8(),
        ),
        version: arrow.vectorFromArray(BigInt64Array.from(events, (e) => BigInt(e.version))),
        type: arrow.vectorFromArray(
          events.map((e) => e.type),
          new arrow.Utf8(),
        ),
        schemaVersion: arrow.vectorFromArray(Int32Array.from(events, (e) => e.schemaVersion)),
        storedSchemaVersion: arrow.vectorFromArray(Int32Array.from(events, (e) => e.storedSchemaVersion)),
        occurredAt: ts('occurredAt'),
        recordedAt: ts('recordedAt'),
        correlationId: arrow.vectorFromArray(
          events.map((e) => e.correlationId),
          new arrow.Utf8(),
        ),
        causationId: arrow.vectorFromArray(
          events.map((e) => e.causationId),
          new arrow.Utf8(),
        ),
        traceparent: arrow.vectorFromArray(
          events.map((e) => e.traceparent),
          new arrow.Utf8(),
        ),
        actor: arrow.vectorFromArray(
          events.map((e) => e.actor),
          new arrow.Utf8(),
        ),
        data: arrow.vectorFromArray(
          events.map((e) => e.data),
          new arrow.Utf8(),
        ),
      });
      const out = wasm.writeParquet(
        wasm.Table.fromIPCStream(arrow.tableToIPC(t, 'stream')),
        new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.SNAPPY).build(),
      );
      size = out.byteLength;
    };
    add('parquet-wasm + apache-arrow', await repeat(write), { bytes: size });
  } catch (err) {
    console.error(`lake bench: parquet-wasm + apache-arrow skipped: ${(err as Error).message}`);
  }

  // End to end: the same number of events in the store, backfilled into a folder lake.
  const perOrder = 5;
  for (let k = 0; k * perOrder < rows; k++) {
    const slice = events.slice(k * perOrder, (k + 1) * perOrder);
    await services.store.append(
      slice[0].orderId,
      0,
      slice.map((e) => ({
        type: e.type,
        schemaVersion: e.storedSchemaVersion,
        data: JSON.parse(e.data) as unknown,
        occurredAt: new Date(e.occurredAt).toISOString(),
        metadata: { actor: e.actor ?? undefined, correlationId: e.correlationId ?? undefined },
      })),
    );
  }
  let result: Awaited<ReturnType<typeof services.lake.backfill>> | undefined;
  const seconds = await timed(async () => (result = await services.lake.backfill(services.store)));
  figures.push({
    name: 'lake backfill end to end (read feed, stage, roll, Parquet files in a folder)',
    unit: 'events/s',
    value: Math.round(rows / seconds),
    details: {
      events: result?.manifest.events,
      files: result?.manifest.files.length,
      seconds: Math.round(seconds * 1000) / 1000,
    },
  });
  return figures;
}
