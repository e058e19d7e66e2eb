import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestHost, TestHost } from '../support/host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host?.stop();
});

describe('concurrent writers over HTTP', () => {
  it('lets exactly one of 20 POST /items with the same If-Match succeed; the rest get 412; versions stay contiguous', async () => {
    const orderId = `race-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        call(
          host,
          'POST',
          `/api/orders/${orderId}/items`,
          { productId: `p-${k}`, quantity: 1, unitPrice: '1.00', currency: 'BRL' },
          {
            'if-match': '"1"',
          },
        ),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.body.events.map((e: { version: number }) => e.version)).toEqual([1, 2]);
  });

  it('applies all 20 concurrent POST /items without If-Match, each once, with contiguous versions', async () => {
    const orderId = `race-free-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        call(host, 'POST', `/api/orders/${orderId}/items`, {
          productId: `p-${k}`,
          quantity: 1,
          unitPrice: '1.00',
          currency: 'BRL',
        }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.body.events.map((e: { version: number }) => e.version)).toEqual(
      Array.from({ length: 21 }, (_, k) => k + 1),
    );
  });
});
