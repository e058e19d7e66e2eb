import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, SqliteDatabase } from '../../src/adapters/sqlite/database';
import { DeliveryQueue, inlineEventBytes, NewEvent, queueReads } from '../../src/local/eventGrid/deliveries';

/**
 * The local topic's delivery queue on a real SQLite database: what it reads is a range of an index, each event
 * is stored once for all its deliveries and goes with the last of them, and its counts hold across a reopen
 * and a failed transaction.
 */

const accepted = (k: number, subscriptions: string[], extra = ''): NewEvent => ({
  event: JSON.stringify({
    specversion: '1.0',
    id: `o-${k}:1`,
    source: '/s',
    type: 't',
    subject: `orders/o-${k}`,
    extra,
  }),
  deliveries: subscriptions.map((subscription) => ({
    subscription,
    eventId: `o-${k}:1`,
    orderingKey: `orders/o-${k}`,
    eventType: 't',
    dueAt: 1_000,
    expiresAt: 1_000_000,
  })),
});

const count = (db: SqliteDatabase, table: string) =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

const plan = (db: SqliteDatabase, sql: string, ...params: unknown[]) =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((p) => p.detail)
    .join('\n');

describe('the delivery queue of the local topic', () => {
  it('reads first attempts after a cursor, due retries and events through indexes, never by scanning', () => {
    const db = openDatabase(':memory:');
    new DeliveryQueue(db);
    const first = plan(db, queueReads.firstAttempts, 'a', 0, 10);
    expect(first).toMatch(
      /SEARCH d USING INDEX eventgrid_deliveries_first \(subscription=\? AND delivery_id>\?\)/,
    );
    expect(first).toMatch(/SEARCH e USING INTEGER PRIMARY KEY/);
    const retries = plan(db, queueReads.dueRetries, 'a', 0, 10);
    expect(retries).toMatch(
      /SEARCH d USING INDEX eventgrid_deliveries_retries \(subscription=\? AND due_at<\?\)/,
    );
    const next = plan(db, queueReads.nextRetryAfter, 'a', 0);
    expect(next).toMatch(
      /SEARCH eventgrid_deliveries USING (COVERING )?INDEX eventgrid_deliveries_retries \(subscription=\? AND due_at>\?\)/,
    );
    const event = plan(db, queueReads.event, 1);
    expect(event).toMatch(/SEARCH d USING INTEGER PRIMARY KEY/);
    for (const p of [first, retries, next, event]) expect(p).not.toMatch(/SCAN|TEMP B-TREE/);
    db.close();
  });

  it('stores each event once for its deliveries, and deletes it with the last of them', () => {
    const db = openDatabase(':memory:');
    const queue = new DeliveryQueue(db);
    queue.enqueue([accepted(1, ['a', 'b', 'c']), accepted(2, ['a']), accepted(3, [])]);
    expect(count(db, 'eventgrid_events')).toBe(2);
    expect(count(db, 'eventgrid_deliveries')).toBe(4);
    expect(queue.pendingBySubscription()).toEqual(
      new Map([
        ['a', 2],
        ['b', 1],
        ['c', 1],
      ]),
    );
    const [a1, a2] = queue.firstAttempts('a', 0, 10);
    expect(a1).toMatchObject({ eventId: 'o-1:1', orderingKey: 'orders/o-1', eventType: 't', attempts: 0 });
    expect(JSON.parse(a1.event!)).toMatchObject({ id: 'o-1:1' });
    expect(queue.firstAttempts('a', a1.deliveryId, 10).map((d) => d.eventId)).toEqual(['o-2:1']);

    const [b1] = queue.firstAttempts('b', 0, 10);
    const [c1] = queue.firstAttempts('c', 0, 10);
    queue.settle([
      { kind: 'done', deliveryId: a1.deliveryId, subscription: 'a' },
      { kind: 'done', deliveryId: a2.deliveryId, subscription: 'a' },
      {
        kind: 'retry',
        deliveryId: b1.deliveryId,
        subscription: 'b',
        attempts: 1,
        dueAt: 5_000,
        error: '503',
      },
    ]);
    // Event 2 had one delivery: gone with it. Event 1 still has two.
    expect(count(db, 'eventgrid_events')).toBe(1);
    expect(queue.storedEvents()).toBe(1);
    expect(queue.firstAttempts('b', 0, 10)).toEqual([]);
    expect(queue.dueRetries('b', 4_999, 10)).toEqual([]);
    expect(queue.nextRetryAfter('b', 4_999)).toBe(5_000);
    const [retry] = queue.dueRetries('b', 5_000, 10);
    expect(retry).toMatchObject({ deliveryId: b1.deliveryId, attempts: 1, dueAt: 5_000 });
    expect(JSON.parse(retry.event!)).toMatchObject({ id: 'o-1:1' });

    queue.settle([{ kind: 'done', deliveryId: c1.deliveryId, subscription: 'c' }]);
    expect(count(db, 'eventgrid_events')).toBe(1);
    queue.settle([{ kind: 'done', deliveryId: b1.deliveryId, subscription: 'b' }]);
    expect(count(db, 'eventgrid_events')).toBe(0);
    expect(queue.pending()).toBe(0);
    expect(queue.pendingBySubscription()).toEqual(new Map());
    db.close();
  });

  it('reads a large event by itself, not with its delivery', () => {
    const db = openDatabase(':memory:');
    const queue = new DeliveryQueue(db);
    queue.enqueue([accepted(1, ['a'], 'x'.repeat(inlineEventBytes))]);
    const [d] = queue.firstAttempts('a', 0, 10);
    expect(d.event).toBeNull();
    expect(JSON.parse(queue.event(d.deliveryId)!).extra).toHaveLength(inlineEventBytes);
    db.close();
  });

  it('counts again what a reopened queue holds, and keeps its counts when a settlement fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-queue-'));
    const db = openDatabase(dir, 'eventgrid.db');
    const queue = new DeliveryQueue(db);
    queue.enqueue(Array.from({ length: 10 }, (_, k) => accepted(k, ['a', 'b'])));
    const [first] = queue.firstAttempts('a', 0, 1);
    expect(() =>
      queue.settle([{ kind: 'done', deliveryId: first.deliveryId, subscription: 'a' }], () => {
        throw new Error('the log could not be written');
      }),
    ).toThrow('the log could not be written');
    expect(queue.pendingBySubscription().get('a')).toBe(10);
    expect(queue.firstAttempts('a', 0, 100)).toHaveLength(10);
    queue.settle([{ kind: 'done', deliveryId: first.deliveryId, subscription: 'a' }]);

    const reopened = new DeliveryQueue(db);
    expect(reopened.pendingBySubscription()).toEqual(
      new Map([
        ['a', 9],
        ['b', 10],
      ]),
    );
    expect(reopened.storedEvents()).toBe(10);
    // New events get rows after the stored ones; the shared event goes with its last delivery.
    reopened.enqueue([accepted(99, ['a'])]);
    const [b0] = reopened.firstAttempts('b', 0, 1);
    reopened.settle([{ kind: 'done', deliveryId: b0.deliveryId, subscription: 'b' }]);
    expect(count(db, 'eventgrid_events')).toBe(10);
    expect(reopened.firstAttempts('a', 0, 100).map((d) => d.eventId)).toContain('o-99:1');
    db.close();
  });
});
