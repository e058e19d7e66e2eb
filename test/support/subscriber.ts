import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** How the test server answers a request on one path: a status, and whether to answer the handshake. */
export type Behaviour = (
  req: Received,
  attempt: number,
) => { status: number; allowOrigin?: string | null; hang?: boolean };

/**
 * A test's own HTTP server standing in for webhook subscribers (or a topic): records every request per
 * path and answers as the path's behaviour says. By default it answers the CloudEvents handshake and 200.
 */
export async function startSubscriber(behaviours: Record<string, Behaviour> = {}) {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const hanging = new Set<() => void>();
  let held = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const r: Received = {
        path,
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      };
      received.push(r);
      const key = `${req.method} ${path}`;
      const attempt = (counts.get(key) ?? 0) + 1;
      counts.set(key, attempt);
      const b = (behaviours[path] ?? (() => ({ status: 200 })))(r, attempt);
      if (b.hang && req.method !== 'OPTIONS') {
        hanging.add(() => res.destroy());
        held++;
        res.once('close', () => held--);
        return;
      }
      if (req.method === 'OPTIONS') {
        // The handshake: echo the origin unless the behaviour says which (null: none) to allow.
        const origin =
          b.allowOrigin === undefined ? String(req.headers['webhook-request-origin'] ?? '') : b.allowOrigin;
        res.writeHead(200, origin ? { 'WebHook-Allowed-Origin': origin } : {});
        res.end();
        return;
      }
      res.writeHead(b.status);
      res.end();
    });
  });
  // Idle connections are left for the client (the local topic, the relay's publisher) to close: a server that
  // drops one itself (Node's default after 5 s) can do so just as the client sends the next request on it,
  // which then fails without reaching the behaviour (as a reset, then a retry). On a loaded machine that race
  // is lost now and then, and a first delivery attempt shows up as a retry.
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    received,
    posts: (path: string) => received.filter((r) => r.path === path && r.method === 'POST'),
    /** Requests held open by a `hang` behaviour that the client has not given up on yet. */
    heldOpen: () => held,
    close: () =>
      new Promise<void>((r) => {
        hanging.forEach((h) => h());
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
