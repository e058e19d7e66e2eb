import { connect, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { call, eventually, startTestHost } from '../support/host';

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
    const open = async () => {
      const socket = connect(Number(url.port), url.hostname);
      await new Promise((r) => socket.once('connect', r));
      return socket;
    };
    // Everything a connection receives, until it closes.
    const received = (socket: Socket) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const closed = new Promise<string>((resolve) => {
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      return { text: () => text, closed };
    };
    // A request in flight holds the drain open (the host closes the connections left only once none is in
    // flight, after a short grace): an order whose body is sent only at the end. Its "100 Continue" says the
    // host is handling it. Without it, the request below raced that grace against the test's own timers.
    const holder = await open();
    const held = received(holder);
    const body = JSON.stringify({ customerId: 'c-1', orderId: `shutdown-held-${Date.now()}` });
    holder.write(
      'POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Authorization: ${host.supportAuthorization}\r\nExpect: 100-continue\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    await eventually(async () => (held.text().startsWith('HTTP/1.1 100 Continue') ? true : undefined));

    // A request whose head is not complete when the host is told to stop.
    const socket = await open();
    const answer = received(socket);
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n');
    host.process.kill('SIGTERM');
    // The host drains once it refuses new connections.
    await eventually(
      () =>
        new Promise<true | undefined>((resolve) => {
          const probe = connect(Number(url.port), url.hostname);
          probe.once('connect', () => {
            probe.destroy();
            resolve(undefined);
          });
          probe.once('error', () => resolve(true));
        }),
    );
    socket.write('\r\n');
    const text = await answer.closed;
    holder.write(body);
    const heldText = await held.closed;
    expect(await host.stop()).toBe(0);
    // 503 with Retry-After: the host is draining, and it answers rather than resets.
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    expect(text.toLowerCase()).toContain('retry-after: 1');
    // The request in flight is answered too.
    expect(heldText).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201/);
  });
});
