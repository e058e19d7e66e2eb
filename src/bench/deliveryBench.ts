import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * `delivery-backlog`: how fast the local Event Grid topic drains a backlog to one webhook, and how the host
 * answers `/api/health` meanwhile, next to the same webhook fed by a plain loop of HTTP POSTs (the ceiling).
 *
 * The backlog: `orders` synthetic orders of `versions` events each (90,000 events, as the Olist import's
 * 89,785), shaped as the relay publishes them (subject `orders/{id}`, `orderversion`, a `traceparent`, about
 * 700 bytes of JSON), each order's events in a row as an import commits them. Their type is one no function of
 * the app handles, so the app's two eventGrid-trigger functions, subscribers to every event as on `npm start`,
 * take and ignore them: what is measured is the topic, not the consumers' writes. They are published to the
 * real local host (`dist/src/local/main.js`) in requests of 1,000 while the webhook holds the CloudEvents
 * handshake, so the whole backlog is queued before the first webhook delivery (a topic that cannot take it
 * within `maxSeconds` is measured on what it took); then the handshake is answered and the clock starts.
 *
 * The webhook is a bare `node:http` server answering 200, in a worker thread of the bench process, counting
 * the distinct event ids it took. During the drain `/api/health` is probed every 20 ms, one probe at a time
 * (p50, p99, max; a probe over 30 s counts as timed out, outside the percentiles). The drain ends when every
 * event arrived, or after `maxSeconds` (the figures are then over what arrived). The ceiling: the same
 * webhook, the same event bodies and headers, posted by a loop holding 4 requests in flight (the topic's bound
 * per subscription) over a keep-alive agent; measured before the host starts and after it stopped, the
 * figure being their mean.
 *
 * `BENCH_DELIVERY_MAX_SECONDS` (default 300) bounds the publishing and the drain, each;
 * `BENCH_HOST_NODE_ARGS` adds Node.js options to the host, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */

export interface DeliveryBacklogOptions {
  orders: number;
  versions: number;
  /** Longest drain, in seconds: past it the figures are over what arrived. */
  maxSeconds: number;
  /** Events per publish request (at most 5,000 and 1 MB per request). */
  publishBatch: number;
  /**
   * The webhook subscription's `maxEventsPerBatch` (Event Grid's output batching; default 1, one event per
   * request, as the ceiling's loop sends them).
   */
  maxEventsPerBatch?: number;
  /** Node.js options for the host process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (it is stopped with SIGTERM). */
  hostNodeArgs?: string[];
  progress?: (line: string) => void;
}

export const defaultDeliveryBacklogOptions: DeliveryBacklogOptions = {
  orders: 15_000,
  versions: 6,
  maxSeconds: Number(process.env.BENCH_DELIVERY_MAX_SECONDS ?? 300),
  publishBatch: 1_000,
  hostNodeArgs: (process.env.BENCH_HOST_NODE_ARGS ?? '').split(' ').filter(Boolean),
};

export interface Latencies {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  timedOut: number;
}

export interface DeliveryBacklogFigures {
  events: number;
  /** Events the topic accepted within `maxSeconds` (all of them, unless it could not take them in time). */
  published: number;
  /** Distinct events the webhook took from the topic. */
  delivered: number;
  /** Seconds from the handshake's answer to the last arrival (or to `maxSeconds`). */
  seconds: number;
  deliveredPerSecond: number;
  /** Events/s over each tenth of the backlog: flat when the cost per delivery does not grow with the backlog. */
  perTenth: number[];
  /**
   * The app's eventGrid-trigger functions subscribe to every event too: seconds into the drain when they had
   * taken the whole backlog (from `/eventgrid/stats`, looked at every second), and the webhook's events/s from
   * then on, alone.
   */
  functionsDoneAfterSeconds?: number;
  afterFunctionsPerSecond?: number;
  /** Seconds to publish the backlog (accepted by the topic). */
  publishSeconds: number;
  /** Deliveries the webhook received more than once. */
  duplicates: number;
  /** The host process's CPU during the drain, in % of one core (Linux; otherwise absent). */
  hostCpuPercent?: number;
  healthIdle: Latencies;
  healthDuringDrain: Latencies;
  ceiling: { runs: number[]; perSecond: number; events: number; inFlight: number };
  /** delivered/s over the ceiling's. */
  ratioToCeiling: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;

function latencies(samples: number[], timedOut: number): Latencies {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    maxMs: round1(sorted[sorted.length - 1] ?? NaN),
    timedOut,
  };
}

/** The events of the backlog, in publish order, as JSON text each. */
function backlogEvents(orders: number, versions: number): { id: string; json: string }[] {
  const out: { id: string; json: string }[] = [];
  const time = Date.parse('2018-03-01T10:00:00.000Z');
  for (let k = 0; k < orders; k++) {
    const orderId = `bench-${k}`;
    for (let v = 1; v <= versions; v++) {
      const id = `${orderId}:${v}`;
      const event = {
        specversion: '1.0',
        id,
        source: '/bench/delivery-backlog',
        type: 'com.contoso.bench.BacklogEvent.v1',
        subject: `orders/${orderId}`,
        time: new Date(time + k * 60_000 + v * 1000).toISOString(),
        datacontenttype: 'application/json',
        orderversion: v,
        traceparent: `00-${(k * 16 + v).toString(16).padStart(32, '0')}-${'0'.repeat(15)}1-01`,
        data: {
          productId: `4244733e06e7ecb4970a6e2683c13e${(k % 100).toString().padStart(2, '0')}`,
          quantity: 1 + (v % 3),
          unitPrice: '58.90',
          currency: 'BRL',
          sellerId: `48436dade18ac8b2bce089ec2a0412${(v % 10).toString().padStart(2, '0')}`,
          occurredAt: new Date(time + k * 60_000 + v * 1000).toISOString(),
          customerId: `871766c5855e863f6eccc05f988b23${(k % 97).toString().padStart(2, '0')}`,
          note: 'x'.repeat(120),
        },
      };
      out.push({ id, json: JSON.stringify(event) });
    }
  }
  return out;
}

/**
 * The webhook, in a worker thread: answers the handshake once `release` is posted (until then it holds it),
 * and 200 to every POST; per path, `counts[0]` distinct ids taken on `/hook`, `counts[1]` on `/ceiling`,
 * `counts[2]` duplicates. `reset` forgets the ids.
 */
const webhookSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:http');
const counts = new Int32Array(workerData.counts);
const seen = [new Set(), new Set()];
let released = false;
const held = [];
const answerHandshake = (req, res) => {
  res.writeHead(200, { 'WebHook-Allowed-Origin': String(req.headers['webhook-request-origin'] ?? '') });
  res.end();
};
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'OPTIONS') {
      if (released) answerHandshake(req, res);
      else held.push(() => answerHandshake(req, res));
      return;
    }
    const slot = req.url === '/ceiling' ? 1 : 0;
    const body = JSON.parse(Buffer.concat(chunks).toString());
    for (const { id } of Array.isArray(body) ? body : [body]) {
      if (seen[slot].has(id)) Atomics.add(counts, 2, 1);
      else {
        seen[slot].add(id);
        Atomics.add(counts, slot, 1);
      }
    }
    res.writeHead(200);
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'release') {
    released = true;
    held.splice(0).forEach((f) => f());
  } else if (m === 'reset') {
    seen[0].clear();
    seen[1].clear();
    Atomics.store(counts, 0, 0);
    Atomics.store(counts, 1, 0);
    Atomics.store(counts, 2, 0);
  } else if (m === 'close') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
`;

/** One HTTP request over `agent`; resolves the status and the time it took (ms), rejects on timeout. */
function send(
  agent: Agent,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      {
        agent,
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The topic's delivery headers, as it sends them. */
const deliveryHeaders = {
  'content-type': 'application/cloudevents+json; charset=utf-8',
  'aeg-subscription-name': 'BACKLOG',
  'aeg-delivery-count': '0',
  'webhook-request-origin': 'eventgrid.azure.net',
};

/** The ceiling: every event posted to the webhook by `inFlight` loops over a keep-alive agent; events/s. */
async function ceilingRun(port: number, events: { json: string }[], inFlight: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const url = new URL(`http://127.0.0.1:${port}/ceiling`);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < events.length) {
        const { status } = await send(agent, url, 'POST', deliveryHeaders, events[next++].json, 30_000);
        if (status !== 200) throw new Error(`the webhook answered ${status}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return events.length / seconds;
}

/** utime + stime of a process, in seconds (Linux /proc); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Sequential `/api/health` probes every `everyMs` until `stop()`: their latencies and timeouts. */
function probeHealth(base: string, everyMs: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(`${base}/api/health`);
  const samples: number[] = [];
  let timedOut = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const { status, ms } = await send(agent, url, 'GET', {}, undefined, 30_000);
        if (status !== 200) throw new Error(`/api/health answered ${status}`);
        samples.push(ms);
      } catch (err) {
        if (!/timed out/.test((err as Error).message)) throw err;
        timedOut++;
      }
      const wait = everyMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    agent.destroy();
  })();
  return {
    samples,
    stop: async (): Promise<Latencies> => {
      running = false;
      await done;
      return latencies(samples, timedOut);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stopHost(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

export async function deliveryBacklog(
  repoRoot: string,
  options: DeliveryBacklogOptions = defaultDeliveryBacklogOptions,
): Promise<DeliveryBacklogFigures> {
  const progress = options.progress ?? (() => {});
  const events = backlogEvents(options.orders, options.versions);
  const counts = new Int32Array(new SharedArrayBuffer(3 * 4));
  const webhook = new Worker(webhookSource, { eval: true, workerData: { counts: counts.buffer } });
  const hookPort = await new Promise<number>((res, rej) => {
    webhook.once('message', (m: { port: number }) => res(m.port));
    webhook.once('error', rej);
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-delivery-'));
  const key = 'bench-delivery-backlog-key';
  let host: ChildProcess | undefined;
  const inFlight = 4;
  const ceilingRuns: number[] = [];
  try {
    // The ceiling, first run (nothing else running).
    ceilingRuns.push(await ceilingRun(hookPort, events, inFlight));
    webhook.postMessage('reset');
    progress(`  ceiling: ${Math.round(ceilingRuns[0])} events/s`);

    const subscriptions = join(dataDir, 'subscriptions.json');
    writeFileSync(
      subscriptions,
      JSON.stringify([
        {
          name: 'backlog',
          endpointUrl: `http://127.0.0.1:${hookPort}/hook`,
          ...(options.maxEventsPerBatch ? { maxEventsPerBatch: options.maxEventsPerBatch } : {}),
        },
      ]),
    );
    const child = spawn(
      process.execPath,
      [...(options.hostNodeArgs ?? []), resolve(repoRoot, 'dist/src/local/main.js')],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          PORT: '0',
          DATA_DIR: join(dataDir, 'data'),
          LOCAL_EVENTGRID_SUBSCRIPTIONS: subscriptions,
          LOCAL_EVENTGRID_KEY: key,
          // The handshake is held while the backlog is published: the deliveries waiting on it must not time out.
          LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS: '3600',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    host = child;
    child.stderr!.resume();
    const base = await new Promise<string>((res, rej) => {
      let out = '';
      const onData = (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/\S+)\/api/.exec(out);
        if (m) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          res(m[1]);
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => rej(new Error(`host exited with ${code}: ${out}`)));
    });

    // Health on the idle host: the reference for the figures during the drain.
    const idle = probeHealth(base, 5);
    await sleep(2_000);
    const healthIdle = await idle.stop();

    // The backlog, queued while the webhook holds the handshake.
    const publishAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const topicUrl = new URL(`${base}/eventgrid/api/events`);
    const publishStarted = performance.now();
    let published = 0;
    for (let k = 0; k < events.length; k += options.publishBatch) {
      // A topic that cannot take the backlog in `maxSeconds` is measured on what it took.
      if (performance.now() - publishStarted > options.maxSeconds * 1000) break;
      const body = `[${events
        .slice(k, k + options.publishBatch)
        .map((e) => e.json)
        .join(',')}]`;
      const { status } = await send(
        publishAgent,
        topicUrl,
        'POST',
        { 'content-type': 'application/cloudevents-batch+json', 'aeg-sas-key': key },
        body,
        600_000,
      );
      if (status !== 200) throw new Error(`the topic answered ${status}`);
      published = Math.min(events.length, k + options.publishBatch);
    }
    const publishSeconds = (performance.now() - publishStarted) / 1000;
    publishAgent.destroy();
    progress(`  published ${published} events in ${publishSeconds.toFixed(1)} s`);

    // The drain.
    const cpuBefore = cpuSeconds(child.pid);
    const probe = probeHealth(base, 20);
    webhook.postMessage('release');
    const started = performance.now();
    const tenth = published / 10;
    const milestones: number[] = [];
    let lastLine = started;
    let lastStats = started;
    let functionsDone: { at: number; delivered: number } | undefined;
    while (Atomics.load(counts, 0) < published) {
      const now = performance.now();
      if (now - started > options.maxSeconds * 1000) break;
      if (!functionsDone && now - lastStats >= 1_000) {
        lastStats = now;
        const stats = (await (await fetch(`${base}/eventgrid/stats`)).json()) as {
          subscriptions: { name: string; pending: number }[];
        };
        const functions = stats.subscriptions.filter((x) => x.name.startsWith('function-'));
        if (functions.every((x) => x.pending === 0))
          functionsDone = { at: performance.now(), delivered: Atomics.load(counts, 0) };
      }
      const n = Atomics.load(counts, 0);
      while (n >= (milestones.length + 1) * tenth) milestones.push(now);
      if (now - lastLine > 5_000) {
        lastLine = now;
        const rate = n / ((now - started) / 1000);
        const lat = latencies(probe.samples, 0);
        progress(`  ${n} / ${published} delivered, ${Math.round(rate)} events/s, health p99 ${lat.p99Ms} ms`);
      }
      await sleep(5);
    }
    const ended = performance.now();
    while (milestones.length < 10 && Atomics.load(counts, 0) >= (milestones.length + 1) * tenth)
      milestones.push(ended);
    const delivered = Atomics.load(counts, 0);
    const duplicates = Atomics.load(counts, 2);
    const cpuAfter = cpuSeconds(child.pid);
    const healthDuringDrain = await probe.stop();
    const seconds = (ended - started) / 1000;
    const perTenth = milestones.map((t, k) =>
      Math.round(tenth / ((t - (k ? milestones[k - 1] : started)) / 1000)),
    );
    const alone =
      functionsDone && ended > functionsDone.at
        ? {
            functionsDoneAfterSeconds: Math.round((functionsDone.at - started) / 100) / 10,
            afterFunctionsPerSecond: Math.round(
              (delivered - functionsDone.delivered) / ((ended - functionsDone.at) / 1000),
            ),
          }
        : {};

    // SIGTERM (so a host run with --cpu-prof writes its profile), SIGKILL if it has not stopped in 30 s.
    await stopHost(child);
    host = undefined;

    webhook.postMessage('reset');
    await sleep(100);
    ceilingRuns.push(await ceilingRun(hookPort, events, inFlight));
    progress(`  ceiling: ${Math.round(ceilingRuns[1])} events/s`);
    const ceiling = ceilingRuns.reduce((a, b) => a + b, 0) / ceilingRuns.length;
    const deliveredPerSecond = delivered / seconds;
    return {
      events: events.length,
      published,
      delivered,
      seconds: Math.round(seconds * 100) / 100,
      deliveredPerSecond: Math.round(deliveredPerSecond),
      perTenth,
      ...alone,
      publishSeconds: Math.round(publishSeconds * 100) / 100,
      duplicates,
      ...(cpuBefore !== undefined && cpuAfter !== undefined
        ? { hostCpuPercent: Math.round(((cpuAfter - cpuBefore) / seconds) * 100) }
        : {}),
      healthIdle,
      healthDuringDrain,
      ceiling: {
        runs: ceilingRuns.map((r) => Math.round(r)),
        perSecond: Math.round(ceiling),
        events: events.length,
        inFlight,
      },
      ratioToCeiling: Math.round((deliveredPerSecond / ceiling) * 1000) / 1000,
    };
  } finally {
    if (host) await stopHost(host);
    webhook.postMessage('close');
    await new Promise((r) => webhook.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
