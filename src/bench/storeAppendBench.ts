import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, SqliteDatabase } from '../adapters/sqlite/database';
import { SqliteEventStore } from '../adapters/sqlite/sqliteEventStore';
import { snapshotSchema, toRecord } from '../app/orderService';
import { OrderEvent } from '../domain/events';
import { StoredEventRecord } from '../ports/eventStore';
import { Figure, loadAverage, median, round1, stampLoad } from './benchKit';

export interface StoreAppendOptions {
  /** Events per commit, each measured on its own. */
  sizes: number[];
  /** Rounds; each runs a block of each peer for each size (which peer goes first alternates). */
  rounds: number;
  commitsPerBlock: number;
  /** Streams the commits of a block go to, round-robin. */
  streams: number;
}

export const defaultStoreAppendOptions: StoreAppendOptions = {
  sizes: [1, 10],
  rounds: 8,
  commitsPerBlock: 500,
  streams: 100,
};

const at = '2026-01-02T10:00:00.000Z';
const metadata = { actor: 'bench', correlationId: 'bench' };

/** The events of a commit: OrderCreated first on a new stream, then lines. */
const commitEvents = (first: boolean, size: number, seq: number): StoredEventRecord[] =>
  Array.from({ length: size }, (_, k): OrderEvent => {
    if (first && k === 0) return { type: 'OrderCreated', data: { customerId: `c-${seq}` }, occurredAt: at };
    return {
      type: 'ProductAddedToOrder',
      data: { productId: `p-${k % 5}`, quantity: 1, unitPrice: '19.90', currency: 'BRL', sellerId: 's-1' },
      occurredAt: at,
    };
  }).map((e) => toRecord(e, metadata));

/** The folded state a command keeps in the head with its commit (a draft order with a few lines). */
const snapshotState = {
  state: {
    exists: true,
    status: 'draft',
    customerId: 'c-bench',
    currency: 'BRL',
    lines: Array.from({ length: 5 }, (_, k) => ({
      productId: `p-${k}`,
      quantity: 3,
      unitPrice: '19.90',
      sellerId: 's-1',
    })),
  },
  updatedAt: at,
};

/** The store's schema (src/adapters/sqlite/sqliteEventStore.ts), for the raw peer's own database file. */
const schema = `
CREATE TABLE IF NOT EXISTS commits (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL,
  i INTEGER NOT NULL,
  n INTEGER NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (order_id, i)
);
CREATE TABLE IF NOT EXISTS streams (order_id TEXT PRIMARY KEY, version INTEGER NOT NULL, snapshot TEXT);
CREATE INDEX IF NOT EXISTS commits_recorded_at ON commits (json_extract(doc, '$.recordedAt'));
`;

/**
 * The transaction of SqliteEventStore.append written straight against libsql: in one IMMEDIATE transaction,
 * read the head's version and compare it, insert the commit document (JSON), upsert the head with the
 * snapshot. No port types, no listeners, no validation of the arguments.
 */
function rawAppender(db: SqliteDatabase) {
  db.exec(schema);
  const head = db.prepare('SELECT version FROM streams WHERE order_id = ?');
  const insert = db.prepare('INSERT INTO commits (order_id, i, n, doc) VALUES (?, ?, ?, ?)');
  const upsert = db.prepare(
    `INSERT INTO streams (order_id, version, snapshot) VALUES (?, ?, ?)
     ON CONFLICT(order_id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot`,
  );
  const tx = db
    .transaction((orderId: string, expected: number, events: StoredEventRecord[]) => {
      const row = head.get(orderId) as { version: number } | undefined;
      if ((row?.version ?? 0) !== expected) throw new Error(`${orderId}: version conflict`);
      const n = expected + events.length;
      const doc = {
        id: String(expected).padStart(10, '0'),
        orderId,
        kind: 'commit',
        i: expected,
        n,
        e: events,
        recordedAt: new Date().toISOString(),
      };
      insert.run(orderId, expected, n, JSON.stringify(doc));
      upsert.run(orderId, n, JSON.stringify({ schema: snapshotSchema, version: n, state: snapshotState }));
      return n;
    })
    .immediate.bind(null);
  return (orderId: string, expected: number, events: StoredEventRecord[]) =>
    tx(orderId, expected, events) as number;
}

type Append = (orderId: string, expected: number, events: StoredEventRecord[]) => Promise<number>;

/** Commits per second of one block: `commits` appends round-robin over `streams` streams of this block. */
async function block(append: Append, prefix: string, size: number, commits: number, streams: number) {
  const versions = new Array<number>(streams).fill(0);
  const started = performance.now();
  for (let k = 0; k < commits; k++) {
    const s = k % streams;
    versions[s] = await append(prefix + s, versions[s], commitEvents(versions[s] === 0, size, k));
  }
  return commits / ((performance.now() - started) / 1000);
}

/**
 * `store-append`: SqliteEventStore.append (with the snapshot a command keeps in the head) against the same
 * transaction written straight on libsql, each on its own database file in one temporary folder with the
 * store's pragmas (WAL, synchronous=NORMAL), in alternating blocks: each round, for each size, a block of
 * `commitsPerBlock` commits of each peer, the first peer alternating per round. Figures: the median block of
 * each, and the store's throughput as a percentage of the raw one.
 */
export async function storeAppend(
  options: StoreAppendOptions = defaultStoreAppendOptions,
  progress: (line: string) => void = () => {},
): Promise<Figure[]> {
  const { sizes, rounds, commitsPerBlock, streams } = options;
  const loadAtStart = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-append-'));
  const store = new SqliteEventStore(openDatabase(dir));
  const rawDb = openDatabase(dir, 'raw.db');
  try {
    const raw = rawAppender(rawDb);
    const peers: Record<'store' | 'raw', Append> = {
      store: async (orderId, expected, events) =>
        (
          await store.append(orderId, expected, events, {
            snapshot: { schema: snapshotSchema, state: snapshotState },
          })
        ).version,
      raw: async (orderId, expected, events) => raw(orderId, expected, events),
    };
    const samples = new Map(sizes.map((s) => [s, { store: [] as number[], raw: [] as number[] }]));
    for (const size of sizes) {
      for (const peer of ['store', 'raw'] as const) await block(peers[peer], `warm-${size}-`, size, 200, 50);
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['store', 'raw'] as const) : (['raw', 'store'] as const);
      for (const size of sizes) {
        for (const peer of order) {
          const perSecond = await block(peers[peer], `r${r}-${size}-`, size, commitsPerBlock, streams);
          samples.get(size)![peer].push(perSecond);
        }
      }
    }
    const figures: Figure[] = [];
    const summary: string[] = [];
    for (const size of sizes) {
      const s = samples.get(size)!;
      const storePerSecond = median(s.store);
      const rawPerSecond = median(s.raw);
      const share = (storePerSecond / rawPerSecond) * 100;
      const shared = { eventsPerCommit: size, rounds, commitsPerBlock, streams, withSnapshot: true };
      figures.push(
        {
          name: `SqliteEventStore.append, ${size} event(s) per commit (alternating with raw libsql)`,
          unit: 'commits/s',
          value: Math.round(storePerSecond),
          details: { ...shared, blocks: s.store.map(Math.round) },
        },
        {
          name: `raw libsql, the same transaction, ${size} event(s) per commit`,
          unit: 'commits/s',
          value: Math.round(rawPerSecond),
          details: { ...shared, blocks: s.raw.map(Math.round) },
        },
        {
          name: `store append / raw libsql throughput, ${size} event(s) per commit`,
          unit: '%',
          value: round1(share),
          details: { perRound: s.store.map((x, k) => round1((x / s.raw[k]) * 100)) },
        },
      );
      summary.push(
        `${size} event(s): store ${Math.round(storePerSecond)}/s, raw ${Math.round(rawPerSecond)}/s (${round1(share)} %)`,
      );
    }
    progress(`  store append: ${summary.join('; ')}; load ${loadAtStart ?? '?'} → ${loadAverage() ?? '?'}`);
    return stampLoad(figures, loadAtStart);
  } finally {
    await store.close();
    rawDb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
