import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { DeliveryQueue } from '../../src/local/eventGrid/deliveries';

/**
 * A delivery queue written before the delivery log (no `event_type` column), opened by this version on a real
 * SQLite database: its queued deliveries keep their place and gain their event's type, which the log records.
 */
describe('a delivery queue from before the delivery log', () => {
  it("gains each queued delivery's event type, read from the event itself", () => {
    const db = openDatabase(':memory:');
    db.exec(`
      CREATE TABLE eventgrid_deliveries (
        delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, subscription TEXT NOT NULL, event_id TEXT NOT NULL,
        event TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, last_error TEXT, ordering_key TEXT);`);
    const event = {
      specversion: '1.0',
      id: 'o-1:1',
      source: '/orders',
      type: 'com.contoso.orders.OrderCreated.v2',
    };
    db.prepare(
      'INSERT INTO eventgrid_deliveries (subscription, event_id, event, due_at, expires_at, ordering_key) VALUES (?, ?, ?, 0, ?, ?)',
    ).run('my-webhook', 'o-1:1', JSON.stringify(event), Date.now() + 60_000, 'orders/o-1');

    const queue = new DeliveryQueue(db);
    const [delivery] = queue.firstAttempts('my-webhook', 0, 10);
    expect(delivery).toMatchObject({
      subscription: 'my-webhook',
      eventId: 'o-1:1',
      orderingKey: 'orders/o-1',
      eventType: 'com.contoso.orders.OrderCreated.v2',
    });
    expect(JSON.parse(queue.event(delivery.deliveryId)!)).toEqual(event);
    expect(queue.pendingBySubscription()).toEqual(new Map([['my-webhook', 1]]));
    db.close();
  });
});
