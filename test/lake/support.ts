import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { toRecord } from '../../src/app/orderService';
import { OrderEvent } from '../../src/domain/events';
import { LakeTarget } from '../../src/ports/eventLake';
import { EventStore, RecordedEvent, eventsOfCommit } from '../../src/ports/eventStore';

/** Every event of the store, in feed order, read as the lake must hold them. */
export async function storeEvents(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (
    let position: string | undefined, page;
    (page = await store.readFeed(position, 1000)).commits.length;
  ) {
    for (const c of page.commits) out.push(...eventsOfCommit(c));
    position = page.position;
  }
  return out;
}

/**
 * Appends a small history with what the lake must get right: an `OrderCreated` stored at schema version 1 (upcast
 * to 2), money with and without fraction digits, a business time with an offset just after midnight (its UTC date
 * is the day before), events on several dates, metadata with and without causation.
 */
export async function seedHistory(store: EventStore, orders = 3, offset = 0): Promise<void> {
  for (let k = offset; k < offset + orders; k++) {
    const id = `order-${k}`;
    const day = `2017-0${1 + (k % 3)}-1${k % 10}`;
    await store.append(id, 0, [
      // Stored as v1 (no referralCode): the lake holds it upcast to v2.
      {
        type: 'OrderCreated',
        schemaVersion: 1,
        data: { customerId: `customer-${k}` },
        occurredAt: `${day}T00:30:00+02:00`,
        metadata: { actor: `user:customer-${k}`, correlationId: `corr-${k}` },
      },
    ]);
    const lines: OrderEvent[] = [
      {
        type: 'ProductAddedToOrder',
        data: {
          productId: `sku-${k}`,
          quantity: 2,
          unitPrice: '199.90',
          currency: 'BRL',
          sellerId: 'seller-1',
        },
        occurredAt: `${day}T10:00:00.123Z`,
      },
      {
        type: 'ProductAddedToOrder',
        data: { productId: `sku-x${k}`, quantity: 1, unitPrice: '1500', currency: 'JPY' },
        occurredAt: `${day}T10:05:00Z`,
      },
    ];
    await store.append(
      id,
      1,
      lines.map((e) =>
        toRecord(e, { actor: `user:customer-${k}`, correlationId: `corr-${k}`, causationId: 'cmd-1' }),
      ),
    );
    await store.append(id, 3, [
      toRecord(
        {
          type: 'OrderSubmitted',
          data: { total: '399.80', currency: 'BRL', lineCount: 2 },
          occurredAt: `${day}T23:59:59.999Z`,
        },
        {
          actor: `user:customer-${k}`,
          correlationId: `corr-${k}`,
          traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
        },
      ),
    ]);
  }
}

/** A DuckDB connection in memory. */
export async function duck() {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return {
    // DuckDB answers JSON-friendly rows: BIGINT and DECIMAL as strings, timestamps as ISO text.
    rows: async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson(),
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Copies every file of a lake target into a fresh local folder (for DuckDB to read blobs). */
export async function copyToFolder(target: LakeTarget): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lake-copy-'));
  for (const f of await target.list('')) {
    const file = join(dir, ...f.path.split('/'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, (await target.read(f.path))!);
  }
  return dir;
}

/** A target that fails once, on the first write of `path`, as a crash at that point would leave the lake. */
export function crashingOnce(target: LakeTarget, path: string): LakeTarget & { crashed: boolean } {
  let crashed = false;
  return {
    get location() {
      return target.location;
    },
    get crashed() {
      return crashed;
    },
    write: async (p, bytes, type) => {
      if (p === path && !crashed) {
        crashed = true;
        throw new Error(`simulated crash before writing ${p}`);
      }
      return target.write(p, bytes, type);
    },
    read: (p) => target.read(p),
    list: (p) => target.list(p),
    delete: (p) => target.delete(p),
    withLock: (work) => target.withLock(work),
  };
}
