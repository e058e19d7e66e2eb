import { describe, expect, it } from 'vitest';
import { call, startTestHost } from '../support/host';

describe('graceful shutdown of the local host', () => {
  it('answers the requests in flight on SIGTERM, exits 0, and loses nothing it acknowledged', async () => {
    const host = await startTestHost();
    const orderId = `shutdown-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    const inFlight = Array.from({ length: 30 }, (_, k) =>
      call(host, 'POST', `/api/orders/${orderId}/items`, {
        productId: `p-${k}`,
        quantity: 1,
        unitPrice: '1.00',
        currency: 'BRL',
      }).catch(() => ({ status: 0 })),
    );
    await new Promise((r) => setTimeout(r, 5));
    host.process.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(await host.stop()).toBe(0);
    const acknowledged = answers.filter((a) => a.status === 200).length;

    const again = await startTestHost({}, host.dataDir);
    try {
      const order = await call(again, 'GET', `/api/orders/${orderId}`);
      expect(order.body.lineCount).toBe(acknowledged);
      expect(order.body.version).toBe(1 + acknowledged);
    } finally {
      await again.stop();
    }
  });
});
