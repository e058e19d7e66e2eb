import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BareAnswer } from './bareHttpWorker';
import {
  BenchHost,
  call,
  distFile,
  Figure,
  inParallel,
  load,
  LoadFigures,
  LoadOptions,
  LoadRequest,
  median,
  quantile,
  requestTimes,
  round1,
  round2,
  round3,
  startBenchHost,
  stopBenchHost,
  waitIdle,
  loadAverage,
  stampLoad,
  threadCpuMs,
  pacedLoad,
} from './benchKit';

export type HttpPeersMode = 'commands' | 'reads';

export interface HttpPeersOptions {
  orders: number;
  connections: number;
  /** Turns of each peer, alternating; which goes first alternates too. */
  rounds: number;
  /** Seconds of load per turn. */
  seconds: number;
  /** Seconds of load per peer before the first round, not measured. */
  warmUpSeconds: number;
  /**
   * After the rounds, one host turn of `seconds` paced at this many requests per second (below what it can take):
   * the latency a client sees when the host is not saturated.
   */
  pacedPerSecond: number;
}

export const defaultHttpPeersOptions: HttpPeersOptions = {
  orders: 2000,
  connections: 32,
  rounds: 4,
  seconds: 8,
  warmUpSeconds: 3,
  pacedPerSecond: 500,
};

const item = { productId: 'sku-bench', quantity: 1, unitPrice: '9.90', currency: 'EUR' };
const itemBody = JSON.stringify(item);
/** Headers the server computes per answer or per connection: not copied to the bare server's answers. */
const perAnswer = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

const answerOf = (r: { status: number; headers: Headers; text: string }): BareAnswer => {
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (!perAnswer.has(k)) headers[k] = v;
  });
  return { status: r.status, headers, body: r.text };
};

async function startBare(post: BareAnswer, get: BareAnswer): Promise<{ base: string; worker: Worker }> {
  const worker = new Worker(distFile('bareHttpWorker.js'), { workerData: { post, get } });
  const port = await new Promise<number>((res, rej) => {
    worker.once('message', (p: number) => res(p));
    worker.once('error', rej);
  });
  return { base: `http://127.0.0.1:${port}`, worker };
}

interface Turn extends LoadFigures {
  /** The host's own time per request from its log (host turns only). */
  handlerP50Ms?: number;
  handlerP99Ms?: number;
  /** How long the host kept working after the turn (its change feed catching up), in ms. */
  settleMs?: number;
  /** CPU per request over the turn and its settling, in ms, by thread (Linux /proc; host turns only). */
  cpuMsPerRequest?: CpuPerRequest;
}

/**
 * CPU time per request, in ms: the host's main thread (HTTP), its busiest other thread (the pipeline thread of
 * ADR-0016), its other threads together (V8's GC helpers, libuv's pool), and this process (the load generator).
 */
export interface CpuPerRequest {
  httpThread: number;
  pipelineThread: number;
  otherThreads: number;
  loadGenerator: number;
}

/** Starts measuring the CPU of the host's threads and of this process; the result divides by `requests`. */
function cpuMeter(pid: number): (requests: number) => CpuPerRequest | undefined {
  const before = threadCpuMs(pid);
  const own = process.cpuUsage();
  return (requests) => {
    const used = [...threadCpuMs(pid)].map(([tid, ms]) => ({ tid, ms: ms - (before.get(tid) ?? 0) }));
    if (used.length === 0 || requests === 0) return undefined;
    const http = used.find((t) => t.tid === pid)?.ms ?? 0;
    const others = used.filter((t) => t.tid !== pid).sort((a, b) => b.ms - a.ms);
    const pipeline = others[0]?.ms ?? 0;
    const rest = others.slice(1).reduce((sum, t) => sum + t.ms, 0);
    const generator = process.cpuUsage(own);
    return {
      httpThread: round3(http / requests),
      pipelineThread: round3(pipeline / requests),
      otherThreads: round3(rest / requests),
      loadGenerator: round3((generator.user + generator.system) / 1000 / requests),
    };
  };
}

/**
 * `http-commands` / `http-reads`: the local host (`node dist/src/local/main.js`, a child process, on a fresh
 * DATA_DIR, LOG_LEVEL=information as `npm start`) against a bare `node:http` server (./bareHttpWorker.ts, on
 * a worker thread) giving the same answers, both driven by autocannon in this process with the same requests:
 * add-item (`POST /api/orders/{id}/items`, no If-Match) or `GET /api/orders/{id}`, round-robin over `orders`
 * orders created beforehand (each with one line), `connections` connections. Alternating turns of `seconds`
 * each, the first peer alternating per round; after each host turn, the next turn waits until the host's CPU
 * is idle (its change feed has caught up; the time is reported as `settleMs`). Figures are medians over the
 * rounds; the ratios divide the host's by the bare server's. Each host turn also measures the CPU the host's
 * threads used per request (turn and settling, /proc). Then one host turn paced at `pacedPerSecond`, evenly and
 * open loop (`pacedLoad`): the latency a client sees below saturation.
 */
export async function httpPeers(
  repoRoot: string,
  mode: HttpPeersMode,
  options: HttpPeersOptions = defaultHttpPeersOptions,
  progress: (line: string) => void = () => {},
): Promise<Figure[]> {
  const { orders, connections, rounds, seconds, warmUpSeconds, pacedPerSecond } = options;
  const loadAtStart = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), `bench-http-${mode}-`));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  let host: BenchHost | undefined;
  let bare: { base: string; worker: Worker } | undefined;
  try {
    host = await startBenchHost(repoRoot, dataDir, join(dir, 'host.log'), { LOG_LEVEL: 'information' });
    const h = host;
    const ids = Array.from({ length: orders }, (_, k) => `o-${k}`);
    await inParallel(ids, 8, async (orderId) => {
      await call(h, 'POST', '/api/orders', { orderId, customerId: 'bench' });
      await call(h, 'POST', `/api/orders/${orderId}/items`, item);
    });
    await waitIdle(h.process.pid);
    const post = answerOf(await call(h, 'POST', `/api/orders/${ids[0]}/items`, item));
    const get = answerOf(await call(h, 'GET', `/api/orders/${ids[0]}`));
    bare = await startBare(post, get);

    let next = 0;
    const path = () => `/api/orders/${ids[next++ % orders]}${mode === 'commands' ? '/items' : ''}`;
    const request: LoadRequest =
      mode === 'commands'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: h.authorization },
            body: itemBody,
          }
        : { method: 'GET', headers: { authorization: h.authorization } };
    const loadOf = (base: string, duration: number): LoadOptions => ({
      url: base,
      connections,
      duration,
      timeout: 30,
      requests: [{ ...request, setupRequest: (req) => ({ ...req, path: path() }) }],
    });
    const hostTurn = async (duration: number, paced?: number): Promise<Turn> => {
      const from = h.logOffset();
      const cpu = h.process.pid === undefined ? undefined : cpuMeter(h.process.pid);
      const figures = paced
        ? await pacedLoad(h.base, paced, duration, () => ({
            method: request.method,
            path: path(),
            headers: request.headers ?? {},
            ...(request.body === undefined ? {} : { body: request.body }),
          }))
        : await load(loadOf(h.base, duration));
      const settleMs = await waitIdle(h.process.pid);
      const cpuMsPerRequest = cpu?.(figures.requests);
      const times = requestTimes(h, from, (_m, p) => p.startsWith('/api/orders/o-')).ms;
      return {
        ...figures,
        handlerP50Ms: round2(quantile(times, 0.5)),
        handlerP99Ms: round2(quantile(times, 0.99)),
        settleMs,
        ...(cpuMsPerRequest ? { cpuMsPerRequest } : {}),
      };
    };
    const bareBase = bare.base;
    const bareTurn = (duration: number): Promise<Turn> => load(loadOf(bareBase, duration));

    await hostTurn(warmUpSeconds);
    await bareTurn(warmUpSeconds);
    const turns: { host: Turn; bare: Turn }[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        const hostFigures = await hostTurn(seconds);
        turns.push({ host: hostFigures, bare: await bareTurn(seconds) });
      } else {
        const bareFigures = await bareTurn(seconds);
        turns.push({ bare: bareFigures, host: await hostTurn(seconds) });
      }
      const { host: hostRound, bare: bareRound } = turns[r];
      progress(
        `  ${mode} round ${r + 1} of ${rounds}: host ${hostRound.perSecond}/s p99 ${hostRound.p99Ms} ms, ` +
          `bare ${bareRound.perSecond}/s p99 ${bareRound.p99Ms} ms`,
      );
    }

    const paced = await hostTurn(seconds, pacedPerSecond);

    const of = (peer: 'host' | 'bare', key: keyof LoadFigures | 'handlerP50Ms' | 'handlerP99Ms') =>
      median(turns.map((t) => Number(t[peer][key])));
    const what = mode === 'commands' ? 'add item' : 'GET order';
    const label = mode === 'commands' ? 'commands/s' : 'reads/s';
    const shared = {
      request: mode === 'commands' ? `POST /api/orders/{id}/items ${itemBody}` : 'GET /api/orders/{id}',
      orders,
      connections,
      rounds,
      secondsPerTurn: seconds,
      loadGenerator: 'autocannon 8, in the bench process',
    };
    const hostPerSecond = of('host', 'perSecond');
    const barePerSecond = of('bare', 'perSecond');
    const share = (hostPerSecond / barePerSecond) * 100;
    const p99Ratio = of('host', 'p99Ms') / of('bare', 'p99Ms');
    const turnsOf = (peer: 'host' | 'bare') => turns.map((t) => t[peer]);
    const figures: Figure[] = [
      {
        name: `HTTP ${what} through the local host, ${orders.toLocaleString('en-US')} orders, ${connections} connections`,
        unit: label,
        value: Math.round(hostPerSecond),
        details: {
          ...shared,
          p50Ms: of('host', 'p50Ms'),
          p99Ms: of('host', 'p99Ms'),
          handlerP50Ms: of('host', 'handlerP50Ms'),
          handlerP99Ms: of('host', 'handlerP99Ms'),
          answerBytes: mode === 'commands' ? post.body.length : get.body.length,
          turns: turnsOf('host'),
        },
      },
      {
        name: `HTTP ${what} through the local host, p50`,
        unit: 'ms',
        value: of('host', 'p50Ms'),
        details: { handlerP50Ms: of('host', 'handlerP50Ms') },
      },
      {
        name: `HTTP ${what} through the local host, p99${mode === 'commands' ? ' (goal < 50)' : ''}`,
        unit: 'ms',
        value: of('host', 'p99Ms'),
        details: { handlerP99Ms: of('host', 'handlerP99Ms') },
      },
      ...cpuFigures(what, turnsOf('host')),
      {
        name: `HTTP ${what} through the local host, paced at ${pacedPerSecond.toLocaleString('en-US')}/s: p99`,
        unit: 'ms',
        value: paced.p99Ms,
        details: { ...paced, offeredPerSecond: pacedPerSecond },
      },
      {
        name: `HTTP ${what}, bare node:http (same JSON parsed, same answer)`,
        unit: label,
        value: Math.round(barePerSecond),
        details: {
          ...shared,
          p50Ms: of('bare', 'p50Ms'),
          p99Ms: of('bare', 'p99Ms'),
          turns: turnsOf('bare'),
        },
      },
      { name: `HTTP ${what}, bare node:http, p50`, unit: 'ms', value: of('bare', 'p50Ms'), details: {} },
      { name: `HTTP ${what}, bare node:http, p99`, unit: 'ms', value: of('bare', 'p99Ms'), details: {} },
      {
        name: `HTTP ${what}, host / bare throughput${mode === 'commands' ? ' (goal ≥ 15 %)' : ''}`,
        unit: '%',
        value: round1(share),
        details: {
          hostPerSecond: Math.round(hostPerSecond),
          barePerSecond: Math.round(barePerSecond),
          perRound: turns.map((t) => round1((t.host.perSecond / t.bare.perSecond) * 100)),
        },
      },
      {
        name: `HTTP ${what}, host / bare p99 latency`,
        unit: '×',
        value: round1(p99Ratio),
        details: { hostP99Ms: of('host', 'p99Ms'), bareP99Ms: of('bare', 'p99Ms') },
      },
    ];
    const cpu = cpuFigures(what, turnsOf('host'))[0];
    progress(
      `  ${what}: host ${Math.round(hostPerSecond)}/s p50 ${of('host', 'p50Ms')} ms p99 ${of('host', 'p99Ms')} ms; ` +
        `paced at ${pacedPerSecond}/s: ${paced.perSecond}/s p50 ${paced.p50Ms} ms p99 ${paced.p99Ms} ms; ` +
        `bare ${Math.round(barePerSecond)}/s p50 ${of('bare', 'p50Ms')} ms p99 ${of('bare', 'p99Ms')} ms; ` +
        `host/bare ${round1(share)} %` +
        (cpu ? `; host CPU ${cpu.value} ms per request ${JSON.stringify(cpu.details.byThread)}` : '') +
        `; load ${loadAtStart ?? '?'} → ${loadAverage() ?? '?'}`,
    );
    return stampLoad(figures, loadAtStart);
  } finally {
    if (bare) {
      const exited = new Promise((r) => bare!.worker.once('exit', r));
      bare.worker.postMessage('close');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      await bare.worker.terminate();
    }
    if (host) await stopBenchHost(host);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The host's CPU per request (medians over the turns of each thread's figure), as one figure whose value is the
 * host's three kinds of thread together; none without /proc.
 */
function cpuFigures(what: string, turns: Turn[]): Figure[] {
  const measured = turns.flatMap((t) => (t.cpuMsPerRequest ? [t.cpuMsPerRequest] : []));
  if (measured.length === 0) return [];
  const of = (key: keyof CpuPerRequest) => round3(median(measured.map((m) => m[key])));
  const byThread = {
    httpThread: of('httpThread'),
    pipelineThread: of('pipelineThread'),
    otherThreads: of('otherThreads'),
    loadGenerator: of('loadGenerator'),
  };
  return [
    {
      name: `HTTP ${what} through the local host, CPU per request (all its threads, the settling included)`,
      unit: 'ms',
      value: round3(byThread.httpThread + byThread.pipelineThread + byThread.otherThreads),
      details: { byThread, source: '/proc/<pid>/task/*/stat, utime + stime' },
    },
  ];
}
