import { connect } from 'node:net';
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

  it('answers, not resets, a request that arrives on an open connection while it shuts down', async () => {
    const host = await startTestHost();
    const url = new URL(host.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once('connect', r));
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n');
    host.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    socket.write('\r\n');
    const text = await answer;
    expect(await host.stop()).toBe(0);
    // 503 with Retry-After once HTTP drains; 200 if it came before the change feeds had stopped.
    expect(text).toMatch(/^HTTP\/1\.1 (200|503)/);
    if (text.startsWith('HTTP/1.1 503')) expect(text.toLowerCase()).toContain('retry-after: 1');
  });
});
