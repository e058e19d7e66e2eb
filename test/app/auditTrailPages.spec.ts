import { HttpRequest, InvocationContext } from '@azure/functions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devSignInKey, signDevToken } from '../../src/adapters/devSignIn';
import { closeServices, services } from '../../src/composition/services';
import { orderEvents } from '../../src/handlers/orderEvents';
import { encodeEventsToken } from '../../src/ports/eventStore';

/**
 * `GET /api/orders/{orderId}/events`, paged (issue 14, point 1): the function's handler in this process, on the
 * embedded store of a temporary DATA_DIR, signed in with a development token. Bad parameters over HTTP, for
 * every role, are in the hostile corpus (test/api/hostileCorpus.spec.ts).
 */
let dir: string;
let authorization: string;
const saved = { ...process.env };
const at = '2026-01-02T10:00:00.000Z';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audit-pages-'));
  process.env.DATA_DIR = dir;
  process.env.EVENT_STORE = 'sqlite';
  const token = await signDevToken(devSignInKey(dir), { sub: 'support', roles: ['orders.read'] }, 3600);
  authorization = `Bearer ${token}`;
});
afterAll(async () => {
  await closeServices();
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

async function get(orderId: string, query = '') {
  const res = await orderEvents(
    new HttpRequest({
      method: 'GET',
      url: `http://127.0.0.1:7071/api/orders/${orderId}/events${query}`,
      params: { orderId },
      headers: { authorization },
    }),
    new InvocationContext(),
  );
  return { status: res.status ?? 200, body: res.jsonBody as Record<string, unknown> & AuditPage };
}
interface AuditPage {
  orderId: string;
  version: number;
  events: { type: string; version: number; schemaVersion: number }[];
  continuationToken?: string;
}

describe('the paged audit trail', () => {
  it('pages through an order in version order with the continuation token; the last page has none', async () => {
    const orders = services().orders;
    const orderId = 'paged-1';
    await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1', occurredAt: at });
    const line = { productId: 'p-1', quantity: 1, unitPrice: '1.00', currency: 'BRL' };
    for (let k = 0; k < 249; k++) await orders.handle(orderId, { type: 'AddProduct', line, occurredAt: at });

    const first = await get(orderId);
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(250);
    expect(first.body.events).toHaveLength(100); // the default page
    expect(first.body.events[0]).toMatchObject({ type: 'OrderCreated', version: 1, schemaVersion: 2 });
    expect(Object.keys(first.body).sort()).toEqual(['continuationToken', 'events', 'orderId', 'version']);

    const versions: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await get(orderId, `?limit=70${token ? `&continuationToken=${token}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.version).toBe(250);
      versions.push(...page.body.events.map((e) => e.version));
      token = page.body.continuationToken;
      pages++;
    } while (token);
    expect(pages).toBe(4);
    expect(versions).toEqual(Array.from({ length: 250 }, (_, k) => k + 1));

    const whole = await get(orderId, '?limit=1000');
    expect(whole.body.events).toHaveLength(250);
    expect(whole.body.continuationToken).toBeUndefined();
  });

  it('answers a token past the end with no events, an unknown order with 404, a bad token or limit with 400', async () => {
    await services().orders.handle('paged-2', { type: 'CreateOrder', customerId: 'c-1', occurredAt: at });
    const past = await get('paged-2', `?continuationToken=${encodeEventsToken(7)}`);
    expect(past).toMatchObject({ status: 200, body: { version: 1, events: [] } });
    expect(past.body.continuationToken).toBeUndefined();
    expect((await get('nobody-here')).status).toBe(404);
    for (const query of [
      '?continuationToken=junk',
      `?continuationToken=${Buffer.from('{"v":0}').toString('base64url')}`,
      `?continuationToken=${Buffer.from('{"v":1.5}').toString('base64url')}`,
      `?continuationToken=${Buffer.from('{"v":"3"}').toString('base64url')}`,
      `?continuationToken=${Buffer.from('{"v":3,"o":"x"}').toString('base64url')}`,
      `?continuationToken=${Buffer.from('[3]').toString('base64url')}`,
    ]) {
      const res = await get('nobody-here', query);
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(res.body), query).toContain('query.continuationToken');
    }
    for (const limit of ['0', '1001', '-1', '1.5', 'x']) {
      const res = await get('paged-2', `?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(JSON.stringify(res.body)).toContain('query.limit');
    }
  });
});
