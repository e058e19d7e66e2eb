import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { DeliveryAttempt, DeliveryLog, maxErrorChars } from '../../src/local/eventGrid/deliveryLog';

/**
 * The delivery log's bounds, on a real SQLite database (the file the local topic uses): it keeps the newest
 * 20,000 attempts, trimming in one range delete every 500 inserts and when it is opened, and finds one
 * subject's attempts through its index.
 */

const attempt = (k: number, at = 1_700_000_000_000 + k): DeliveryAttempt => ({
  subscription: k % 2 ? 'function-stockCheck' : 'my-webhook',
  eventId: `order-${k}:1`,
  type: 'com.contoso.orders.OrderCreated.v2',
  subject: `orders/order-${k % 1000}`,
  attempt: 1,
  outcome: k % 3 ? 'delivered' : 'retrying',
  ...(k % 3 ? {} : { status: 503, error: 'subscriber answered 503' }),
  at,
});

describe('the bounds of the delivery log', () => {
  it('keeps the newest 20,000 attempts, trimming every 500 inserts', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'eg-log-bounds-')), 'eventgrid.db');
    const log = new DeliveryLog(db);
    const total = 20_000 + 1_250;
    db.transaction(() => {
      for (let k = 1; k <= total; k++) log.record(attempt(k));
    })();
    // 21,250 inserts: the last trim ran at the 21,000th, so 250 more rows are over the bound until the next.
    expect(log.size()).toBe(20_000 + 250);
    log.trim();
    expect(log.size()).toBe(20_000);
    const oldest = db
      .prepare('SELECT event_id AS eventId FROM eventgrid_delivery_log ORDER BY log_id LIMIT 1')
      .get() as { eventId: string };
    expect(oldest.eventId).toBe(`order-${total - 20_000 + 1}:1`);
    db.close();
  });

  it('trims what is over the bound when it is opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-log-reopen-'));
    const db = openDatabase(dir, 'eventgrid.db');
    const big = new DeliveryLog(db, { maxRows: 1_000_000 });
    db.transaction(() => {
      for (let k = 1; k <= 20_100; k++) big.record(attempt(k));
    })();
    expect(big.size()).toBe(20_100);
    expect(new DeliveryLog(db).size()).toBe(20_000);
    db.close();
  });

  it("lists one subject's attempts newest first through the subject index, at most the limit", () => {
    const db = openDatabase(':memory:');
    const log = new DeliveryLog(db);
    for (let k = 1; k <= 5_000; k++) log.record(attempt(k));
    const found = log.bySubject('orders/order-7', 3);
    expect(found.map((a) => a.eventId)).toEqual(['order-4007:1', 'order-3007:1', 'order-2007:1']);
    expect(log.bySubject('orders/order-7', 200)).toHaveLength(5);
    const plan = db
      .prepare(
        'EXPLAIN QUERY PLAN SELECT * FROM eventgrid_delivery_log WHERE subject = ? ORDER BY log_id DESC LIMIT ?',
      )
      .all('orders/order-7', 200) as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX eventgrid_delivery_log_subject/);
    db.close();
  });

  it('keeps at most 500 characters of an error, and no status or error for a delivered attempt', () => {
    const db = openDatabase(':memory:');
    const log = new DeliveryLog(db);
    log.record({ ...attempt(3), error: 'e'.repeat(10_000) });
    log.record({ ...attempt(4), subject: 'orders/order-3' });
    const [delivered, failed] = log.bySubject('orders/order-3', 10);
    expect(failed.error).toHaveLength(maxErrorChars);
    expect(delivered).not.toHaveProperty('status');
    expect(delivered).not.toHaveProperty('error');
    db.close();
  });

  it('counts delivered and failed attempts per subscription from a time on', () => {
    const db = openDatabase(':memory:');
    const log = new DeliveryLog(db);
    const base = 1_700_000_000_000;
    log.record({ ...attempt(0, base - 1), subscription: 'a', outcome: 'retrying' });
    log.record({ ...attempt(1, base), subscription: 'a', outcome: 'retrying' });
    log.record({ ...attempt(2, base + 1), subscription: 'a', outcome: 'deadLettered' });
    log.record({ ...attempt(3, base + 2), subscription: 'a', outcome: 'delivered' });
    log.record({ ...attempt(4, base + 3), subscription: 'b', outcome: 'dropped' });
    const counts = log.countsSince(base);
    expect(counts.get('a')).toEqual({ delivered: 1, failedAttempts: 2 });
    expect(counts.get('b')).toEqual({ delivered: 0, failedAttempts: 0 });
    db.close();
  });
});
