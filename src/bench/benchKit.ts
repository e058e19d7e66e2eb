import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { devSignInKey, signDevToken } from '../adapters/devSignIn';

/**
 * What the peer benchmarks (HTTP against a bare server, health during an import, one-order contention)
 * share: a local host in a child process with its log in a file, an HTTP load generator (autocannon),
 * quantiles and the wait for a host to go idle between turns.
 */

/** A figure, in the shape of `Measurement` in ./bench.ts (which runs on import, so it is not imported). */
export interface Figure {
  name: string;
  unit: string;
  value: number;
  details: Record<string, unknown>;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The q-quantile by linear interpolation between the closest ranks (NaN when there is no sample). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
export const median = (xs: number[]) => quantile(xs, 0.5);

// ---------------------------------------------------------------------------------------------------------
// The local host in a child process

export interface BenchHost {
  base: string;
  authorization: string;
  process: ChildProcess;
  dataDir: string;
  /** The host's stdout and stderr (one line per request at LOG_LEVEL=information). */
  logFile: string;
  /** The log's size now: the start of what {@link requestTimes} reads next. */
  logOffset(): number;
}

/**
 * Starts `node dist/src/local/main.js` on `dataDir` with PORT=0, its stdout and stderr appended to `logFile`,
 * and resolves once it logs "listening on", with an admin development token of the data folder.
 * `BENCH_HOST_CPU_PROF=<folder>` starts it with `--cpu-prof` (the profile is written when it stops).
 */
export async function startBenchHost(
  repoRoot: string,
  dataDir: string,
  logFile: string,
  env: Record<string, string> = {},
): Promise<BenchHost> {
  const out = openSync(logFile, 'a');
  const profDir = process.env.BENCH_HOST_CPU_PROF;
  const child = spawn(
    process.execPath,
    [
      ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profDir)}`] : []),
      resolve(repoRoot, 'dist/src/local/main.js'),
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, ...env },
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const end = Date.now() + 60_000;
  let base: string | undefined;
  while (!base) {
    if (exited !== undefined) throw new Error(`host exited with ${exited}; see ${logFile}`);
    if (Date.now() > end) throw new Error(`host did not listen within 60 s; see ${logFile}`);
    await sleep(50);
    base = /listening on (http:\/\/\S+)\/api/.exec(readFileSync(logFile, 'utf8'))?.[1];
  }
  const token = await signDevToken(devSignInKey(dataDir), { sub: 'bench', roles: ['orders.admin'] }, 3600);
  return {
    base,
    authorization: `Bearer ${token}`,
    process: child,
    dataDir,
    logFile,
    logOffset: () => statSync(logFile).size,
  };
}

/** Stops a host (SIGTERM: it drains and exits) and waits for its exit. */
export async function stopBenchHost(host: BenchHost): Promise<void> {
  if (host.process.exitCode !== null || host.process.signalCode !== null) return;
  const exited = new Promise((r) => host.process.once('exit', r));
  host.process.kill('SIGTERM');
  await exited;
}

/** The host's log from byte `from` to its end. */
export function readLog(host: BenchHost, from: number): string {
  if (!existsSync(host.logFile)) return '';
  const size = statSync(host.logFile).size;
  if (size <= from) return '';
  const buf = Buffer.alloc(size - from);
  const fd = openSync(host.logFile, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

/**
 * The server's own time per request, from the host's request log lines (`[http] POST /api/... 200 3.4ms`:
 * from the request's arrival at the handler to its answer written, src/local/httpServer.ts) written after
 * byte `from`, for the requests whose method and path pass `filter`.
 */
export function requestTimes(
  host: BenchHost,
  from: number,
  filter: (method: string, path: string) => boolean = () => true,
): { ms: number[]; statuses: Record<string, number> } {
  const ms: number[] = [];
  const statuses: Record<string, number> = {};
  const line = /\[http\] (?:trace_id=\S+ span_id=\S+ )?([A-Z]+) (\S+) (\d{3}) ([\d.]+)ms$/;
  for (const text of readLog(host, from).split('\n')) {
    const m = line.exec(text);
    if (!m || !filter(m[1], m[2])) continue;
    ms.push(Number(m[4]));
    statuses[m[3]] = (statuses[m[3]] ?? 0) + 1;
  }
  return { ms, statuses };
}

/** The longest time between two consecutive lines of the host's log after byte `from`, in ms. */
export function longestLogSilence(host: BenchHost, from: number): number {
  let last: number | undefined;
  let longest = 0;
  for (const text of readLog(host, from).split('\n')) {
    const stamp = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /.exec(text);
    if (!stamp) continue;
    const t = Date.parse(stamp[1]);
    if (last !== undefined) longest = Math.max(longest, t - last);
    last = t;
  }
  return longest;
}

/** CPU time in ms from a `/proc` stat line: utime + stime (fields 14 and 15, after the parenthesized name). */
function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU time used by a process so far, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number): number | undefined {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU time used so far by each thread of a process, in ms, by thread id (Linux /proc; empty elsewhere). */
export function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        out.set(Number(tid), statCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

/**
 * Waits until the host's background work has settled: its CPU use over a 500 ms window below 10 % (a
 * change feed draining after a burst of commands), at most `limitMs`. Resolves the time waited, so a turn of
 * the other peer does not share the cores with the host's leftovers. Without /proc it waits 1 s.
 */
export async function waitIdle(pid: number | undefined, limitMs = 120_000): Promise<number> {
  const started = performance.now();
  if (pid === undefined || cpuMs(pid) === undefined) {
    await sleep(1000);
    return 1000;
  }
  for (;;) {
    const before = cpuMs(pid);
    await sleep(500);
    const after = cpuMs(pid);
    if (before === undefined || after === undefined || after - before < 50) break;
    if (performance.now() - started > limitMs) break;
  }
  return Math.round(performance.now() - started);
}

/** The 1-minute load average as `/proc/loadavg` gives it, with the 5 and 15 (undefined elsewhere). */
export function loadAverage(): string | undefined {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// autocannon (devDependency, no type declarations of its own: the part used here)

export interface LoadRequest {
  method: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: LoadRequest) => LoadRequest;
}

export interface LoadOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  headers?: Record<string, string>;
  requests?: LoadRequest[];
  /** Called with each connection's client before its first request. */
  setupClient?: (client: { setRequests(requests: LoadRequest[]): void }) => void;
}

interface Histogram {
  average: number;
  mean: number;
  min: number;
  max: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
}

interface LoadResult {
  requests: Histogram;
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

export interface LoadFigures {
  /** Answers per second (2xx and others), total over the turn. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  seconds: number;
}

/** Runs autocannon once (in this process) and keeps the figures used here. */
export async function load(options: LoadOptions): Promise<LoadFigures> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- no type declarations; a devDependency
  const autocannon = require('autocannon') as (o: LoadOptions) => Promise<LoadResult>;
  const r = await autocannon(options);
  const requests = r.requests.total;
  return {
    perSecond: Math.round(requests / r.duration),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    requests,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statuses: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    seconds: round2(r.duration),
  };
}

export interface PacedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Sends `perSecond` requests a second for `seconds`, evenly (every 2 ms, those due by then), whether or not the
 * earlier ones were answered (open loop), over keep-alive connections (as many as are in flight), and waits for
 * the answers (30 s timeout). Latency is from the request's send to its answer's end. Not autocannon: its rate
 * limit sends each second's requests at the start of the second, a burst the server queues.
 */
export async function pacedLoad(
  base: string,
  perSecond: number,
  seconds: number,
  next: () => PacedRequest,
): Promise<LoadFigures> {
  const { hostname, port } = new URL(base);
  const agent = new Agent({ keepAlive: true });
  const latencies: number[] = [];
  const statuses = new Map<string, number>();
  let errors = 0;
  let timeouts = 0;
  const answers: Promise<void>[] = [];
  const send = () => {
    const { method, path, headers, body } = next();
    const sentAt = performance.now();
    answers.push(
      new Promise<void>((done) => {
        const req = httpRequest({ hostname, port, method, path, headers, agent, timeout: 30_000 }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - sentAt);
            const status = String(res.statusCode);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            done();
          });
        });
        req.on('timeout', () => {
          timeouts++;
          req.destroy();
        });
        req.on('error', () => {
          errors++;
          done();
        });
        req.end(body);
      }),
    );
  };
  const started = performance.now();
  const total = Math.round(perSecond * seconds);
  let sent = 0;
  await new Promise<void>((finished) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * perSecond));
      for (; sent < due; sent++) send();
      if (sent === total) {
        clearInterval(timer);
        finished();
      }
    }, 2);
  });
  await Promise.all(answers);
  agent.destroy();
  const ok = [...statuses].reduce((n, [status, count]) => n + (status.startsWith('2') ? count : 0), 0);
  return {
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: round1(quantile(latencies, 0.5)),
    p99Ms: round1(quantile(latencies, 0.99)),
    maxMs: round1(Math.max(0, ...latencies)),
    requests: latencies.length,
    non2xx: latencies.length - ok,
    errors,
    timeouts,
    statuses: Object.fromEntries(statuses),
    seconds: round2((performance.now() - started) / 1000),
  };
}

/** A JSON request to the host: the answer's status, headers and body; throws on a status ≥ 300. */
export async function call(
  host: BenchHost,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(host.base + path, {
    method,
    headers: {
      authorization: host.authorization,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
  return { status: res.status, headers: res.headers, text };
}

/** Runs `task` over `items`, `inFlight` at a time. */
export async function inParallel<T>(items: T[], inFlight: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < items.length) await task(items[next++]);
    }),
  );
}

/** The repository's dist/ file of a bench module: this folder when running from dist/src/bench. */
export const distFile = (name: string) => join(__dirname, name);

/** Adds the load average at the benchmark's start and end to every figure (a busy machine moves both peers). */
export function stampLoad(figures: Figure[], atStart: string | undefined): Figure[] {
  const atEnd = loadAverage();
  for (const f of figures) f.details.loadAverage = { atStart, atEnd };
  return figures;
}
