import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { FileDeadLetterStore } from '../../src/adapters/fs/fileDeadLetterStore';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;

beforeAll(async () => {
  subscriber = await startSubscriber();
  const file = join(mkdtempSync(join(tmpdir(), 'eg-subs-')), 'subscriptions.json');
  writeFileSync(file, JSON.stringify([{ name: 'all-events', endpointUrl: `${subscriber.base}/all` }]));
  host = await startTestHost({ LOCAL_EVENTGRID_SUBSCRIPTIONS: file });
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

describe('events over the Event Grid 1 MB limit', () => {
  it('refuses with 413 a command whose event would exceed 1 MB, and appends nothing', async () => {
    const orderId = `big-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    // The body fits the 1 MB request limit; the CloudEvent (the reason plus its envelope of a few hundred
    // bytes) does not fit a 1 MB publish request.
    const body = JSON.stringify({ reason: 'x'.repeat(1024 * 1024 - 100) });
    expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
    const res = await call(host, 'POST', `/api/orders/${orderId}/cancel`, body);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.type).toBe('/problems/event-too-large');
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.version).toBe(1);
  });

  it('dead-letters a 1.5 MB event written straight into the store, and publishes the events after it', async () => {
    const orderId = `huge-${Date.now()}`;
    const store = new SqliteEventStore(openDatabase(host.dataDir));
    const record = (type: string, data: unknown) => ({
      type,
      schemaVersion: type === 'OrderCreated' ? 2 : 1,
      data,
      occurredAt: new Date().toISOString(),
      metadata: { actor: 'another-writer' },
    });
    await store.append(orderId, 0, [record('OrderCreated', { customerId: 'c-1' })]);
    await store.append(orderId, 1, [record('OrderCancelled', { reason: 'y'.repeat(1536 * 1024) })]);
    await store.close();
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId: `${orderId}-after` });

    const letters = new FileDeadLetterStore(join(host.dataDir, 'dead-letters'));
    const letter = await eventually(async () =>
      (await letters.list('publisher')).find((l) => (l.event as { id?: string }).id === `${orderId}:2`),
    );
    expect(letter.reason).toMatch(/over Event Grid's 1048576-byte event limit/);
    expect(letter.sizeBytes).toBeGreaterThan(1.5 * 1024 * 1024);
    expect((letter.event as { id: string }).id).toBe(`${orderId}:2`);
    expect(host.logs.join('')).toMatch(new RegExp(`dead-lettered CloudEvent ${orderId}:2`));

    await eventually(async () =>
      subscriber.posts('/all').some((r) => r.body.includes(`"id":"${orderId}-after:1"`)) ? true : undefined,
    );
    const delivered = subscriber.posts('/all').map((r) => JSON.parse(r.body).id as string);
    expect(delivered).toContain(`${orderId}:1`);
    expect(delivered).not.toContain(`${orderId}:2`);
  });
});
