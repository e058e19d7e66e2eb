import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BenchHost,
  call,
  Figure,
  inParallel,
  load,
  LoadFigures,
  median,
  quantile,
  requestTimes,
  round1,
  round2,
  startBenchHost,
  stopBenchHost,
  waitIdle,
  loadAverage,
  stampLoad,
} from './benchKit';

export interface ContentionOptions {
  clients: number;
  /** Requests per turn, over all clients. */
  requestsPerTurn: number;
  /** Turns of each peer (one order, then an order per client), alternating; the first alternates too. */
  rounds: number;
}

export const defaultContentionOptions: ContentionOptions = { clients: 50, requestsPerTurn: 1000, rounds: 3 };

const item = { productId: 'sku-bench', quantity: 1, unitPrice: '9.90', currency: 'EUR' };

interface Turn extends LoadFigures {
  handlerP50Ms: number;
  handlerP99Ms: number;
  handlerMaxMs: number;
  handlerStatuses: Record<string, number>;
}

/**
 * `one-order-contention`: `clients` connections (autocannon, one client each) adding items without If-Match
 * to one order, so their commands conflict and the service retries them (up to 25 times), against the same
 * clients each on an order of its own (no conflict), alternating turns of `requestsPerTurn` requests on one
 * local host. Figures: the client's p50/p99 and the server's own time per request (the host's request log
 * line, from the request reaching the handler to its answer written: it includes the conflict retries but not
 * the wait in the event loop and the socket before it), and the ratio of the two p99s.
 */
export async function oneOrderContention(
  repoRoot: string,
  options: ContentionOptions = defaultContentionOptions,
  progress: (line: string) => void = () => {},
): Promise<Figure[]> {
  const { clients, requestsPerTurn, rounds } = options;
  const loadAtStart = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'bench-contention-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  let host: BenchHost | undefined;
  try {
    host = await startBenchHost(repoRoot, dataDir, join(dir, 'host.log'), { LOG_LEVEL: 'information' });
    const h = host;
    const headers = { 'content-type': 'application/json', authorization: h.authorization };
    const body = JSON.stringify(item);

    /** A turn on `orderIds` (one: every client on it; `clients`: one each), after creating them. */
    const turn = async (orderIds: string[]): Promise<Turn> => {
      await inParallel(orderIds, 8, async (orderId) => {
        await call(h, 'POST', '/api/orders', { orderId, customerId: 'bench' });
      });
      await waitIdle(h.process.pid);
      let nextClient = 0;
      const paths = new Set(orderIds.map((id) => `/api/orders/${id}/items`));
      const from = h.logOffset();
      const figures = await load({
        url: h.base,
        connections: clients,
        amount: requestsPerTurn,
        timeout: 60,
        // Each client (connection) keeps to one order: its own, or the one shared order.
        setupClient: (client) =>
          client.setRequests([
            {
              method: 'POST',
              path: `/api/orders/${orderIds[nextClient++ % orderIds.length]}/items`,
              headers,
              body,
            },
          ]),
      });
      await waitIdle(h.process.pid);
      const server = requestTimes(h, from, (m, p) => m === 'POST' && paths.has(p));
      return {
        ...figures,
        handlerP50Ms: round2(quantile(server.ms, 0.5)),
        handlerP99Ms: round2(quantile(server.ms, 0.99)),
        handlerMaxMs: round2(Math.max(...server.ms)),
        handlerStatuses: server.statuses,
      };
    };
    const oneOrder = (r: string) => turn([`shared-${r}`]);
    const ownOrders = (r: string) => turn(Array.from({ length: clients }, (_, k) => `own-${r}-${k}`));

    await ownOrders('warm');
    const turns: { one: Turn; own: Turn }[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        const one = await oneOrder(String(r));
        turns.push({ one, own: await ownOrders(String(r)) });
      } else {
        const own = await ownOrders(String(r));
        turns.push({ own, one: await oneOrder(String(r)) });
      }
    }
    const of = (
      peer: 'one' | 'own',
      key: 'p50Ms' | 'p99Ms' | 'handlerP50Ms' | 'handlerP99Ms' | 'perSecond',
    ) => median(turns.map((t) => t[peer][key]));
    const shared = {
      clients,
      requestsPerTurn,
      rounds,
      request: `POST /api/orders/{id}/items ${body}, no If-Match`,
      serverTime: 'the host request log line: handler start to answer written, conflict retries included',
    };
    const figures: Figure[] = [
      {
        name: `${clients} clients adding items to one order, no If-Match: client p50`,
        unit: 'ms',
        value: of('one', 'p50Ms'),
        details: { ...shared, turns: turns.map((t) => t.one) },
      },
      {
        name: `${clients} clients adding items to one order, no If-Match: client p99 (goal < 500)`,
        unit: 'ms',
        value: of('one', 'p99Ms'),
        details: { goalMs: 500, perSecond: of('one', 'perSecond') },
      },
      {
        name: `${clients} clients on one order: server handler p50`,
        unit: 'ms',
        value: of('one', 'handlerP50Ms'),
        details: {},
      },
      {
        name: `${clients} clients on one order: server handler p99`,
        unit: 'ms',
        value: of('one', 'handlerP99Ms'),
        details: {},
      },
      {
        name: `${clients} clients on one order: client p99 / server handler p99`,
        unit: '×',
        value: round1(of('one', 'p99Ms') / of('one', 'handlerP99Ms')),
        details: {},
      },
      {
        name: `${clients} clients each on its own order (peer): client p99`,
        unit: 'ms',
        value: of('own', 'p99Ms'),
        details: {
          ...shared,
          clientP50Ms: of('own', 'p50Ms'),
          handlerP50Ms: of('own', 'handlerP50Ms'),
          handlerP99Ms: of('own', 'handlerP99Ms'),
          perSecond: of('own', 'perSecond'),
          turns: turns.map((t) => t.own),
        },
      },
      {
        name: `client p99, one order / an order per client`,
        unit: '×',
        value: round1(of('one', 'p99Ms') / of('own', 'p99Ms')),
        details: {},
      },
    ];
    progress(
      `  one order, ${clients} clients: client p50 ${of('one', 'p50Ms')} ms, p99 ${of('one', 'p99Ms')} ms, ` +
        `handler p99 ${of('one', 'handlerP99Ms')} ms; own orders: client p99 ${of('own', 'p99Ms')} ms; load ${loadAtStart ?? '?'} → ${loadAverage() ?? '?'}`,
    );
    return stampLoad(figures, loadAtStart);
  } finally {
    if (host) await stopBenchHost(host);
    rmSync(dir, { recursive: true, force: true });
  }
}
