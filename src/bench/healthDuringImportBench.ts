import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BenchHost,
  Figure,
  longestLogSilence,
  quantile,
  round1,
  round2,
  sleep,
  startBenchHost,
  stopBenchHost,
  loadAverage,
  stampLoad,
} from './benchKit';

export interface HealthDuringImportOptions {
  /** One probe every `intervalMs`, whether the earlier ones have been answered or not. */
  intervalMs: number;
  /** A probe not answered within this is a timeout (the probes waited 30 s). */
  timeoutMs: number;
  /** Probing before the import starts (the peer: the same host, quiet) and after it ends. */
  quietSeconds: number;
  afterSeconds: number;
}

export const defaultHealthDuringImportOptions: HealthDuringImportOptions = {
  intervalMs: 100,
  timeoutMs: 30_000,
  quietSeconds: 10,
  afterSeconds: 10,
};

type Phase = 'quiet' | 'import' | 'after';

interface Probe {
  phase: Phase;
  ms: number;
  outcome: 'ok' | 'timeout' | 'error';
}

function stats(probes: Probe[]) {
  const ms = probes.map((p) => p.ms);
  return {
    probes: probes.length,
    p50Ms: round1(quantile(ms, 0.5)),
    p99Ms: round1(quantile(ms, 0.99)),
    maxMs: round1(ms.length ? Math.max(...ms) : NaN),
    timeouts: probes.filter((p) => p.outcome === 'timeout').length,
    errors: probes.filter((p) => p.outcome === 'error').length,
  };
}

/** A number after `label` in the import's summary (src/import/importRun.ts formatTotals). */
const summaryNumber = (summary: string, pattern: RegExp): number | undefined => {
  const m = pattern.exec(summary);
  return m ? Number(m[1].replace(/,/g, '')) : undefined;
};

/**
 * `health-during-import`: a local host (child process, fresh DATA_DIR, no webhook subscription) answering
 * `GET /api/health`, probed open-loop every `intervalMs` (each probe is sent on time whether the earlier ones
 * were answered or not, so a stalled host is not hidden by probes that wait for each other): first quiet,
 * then while the Olist import (`node dist/src/import/cli.js olist <folder>`, what `npm run import -- olist
 * <folder>` runs after its build) runs beside it as a separate process on the same DATA_DIR, then
 * `afterSeconds` more while the host's change feed works through what the import wrote. Figures: health
 * p50/p99/max and timeouts during the import, the quiet peer and the ratio of the p99s, the import's
 * duration, and the host's longest silence in its log.
 */
export async function healthDuringImport(
  repoRoot: string,
  olistDir: string,
  options: HealthDuringImportOptions = defaultHealthDuringImportOptions,
  progress: (line: string) => void = () => {},
): Promise<Figure[]> {
  const { intervalMs, timeoutMs, quietSeconds, afterSeconds } = options;
  const loadAtStart = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'bench-health-import-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  let host: BenchHost | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    host = await startBenchHost(repoRoot, dataDir, join(dir, 'host.log'));
    const url = `${host.base}/api/health`;
    const probes: Probe[] = [];
    const pending = new Set<Promise<void>>();
    let phase: Phase = 'quiet';
    const probe = () => {
      const p = phase;
      const started = performance.now();
      const done = fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
        .then((r) => r.arrayBuffer())
        .then(
          () => probes.push({ phase: p, ms: performance.now() - started, outcome: 'ok' }),
          (err: unknown) =>
            probes.push({
              phase: p,
              ms: performance.now() - started,
              outcome: (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'error',
            }),
        )
        .then(() => void pending.delete(done));
      pending.add(done);
    };
    timer = setInterval(probe, intervalMs);
    await sleep(quietSeconds * 1000);

    phase = 'import';
    const logFrom = host.logOffset();
    const started = performance.now();
    const child = spawn(process.execPath, [resolve(repoRoot, 'dist/src/import/cli.js'), 'olist', olistDir], {
      cwd: repoRoot,
      env: { ...process.env, DATA_DIR: dataDir, EVENT_STORE: 'sqlite' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    const importSeconds = (performance.now() - started) / 1000;
    const silenceMs = longestLogSilence(host, logFrom);

    phase = 'after';
    await sleep(afterSeconds * 1000);
    clearInterval(timer);
    timer = undefined;
    await Promise.all([...pending]);
    if (code !== 0) throw new Error(`the import exited with ${code}: ${stderr.slice(-1000)}`);

    const of = (p: Phase) => stats(probes.filter((x) => x.phase === p));
    const quiet = of('quiet');
    const during = of('import');
    const after = of('after');
    const events = summaryNumber(stdout, /events appended\s+([\d,]+)/);
    const importElapsed = summaryNumber(stdout, /elapsed\s+([\d.]+) s/);
    const readModel = summaryNumber(stdout, /read model\s.*?([\d.]+) s$/m);
    const shared = { intervalMs, timeoutMs, probe: 'GET /api/health, open loop' };
    const figures: Figure[] = [
      {
        name: '/api/health during the Olist import beside the host, p50',
        unit: 'ms',
        value: during.p50Ms,
        details: { ...shared, ...during },
      },
      {
        name: '/api/health during the Olist import beside the host, p99 (goal < 100)',
        unit: 'ms',
        value: during.p99Ms,
        details: { ...shared, ...during, goalMs: 100 },
      },
      {
        name: '/api/health during the Olist import beside the host, max',
        unit: 'ms',
        value: during.maxMs,
        details: { ...shared, longestHostLogSilenceMs: silenceMs },
      },
      {
        name: `/api/health during the Olist import, probes timed out at ${timeoutMs / 1000} s (goal 0)`,
        unit: 'probes',
        value: during.timeouts,
        details: { ...shared, probes: during.probes, errors: during.errors },
      },
      {
        name: '/api/health, same host before the import (quiet), p99',
        unit: 'ms',
        value: quiet.p99Ms,
        details: { ...shared, ...quiet, afterImport: after },
      },
      {
        name: '/api/health p99, during the import / quiet',
        unit: '×',
        value: round1(during.p99Ms / quiet.p99Ms),
        details: { duringP99Ms: during.p99Ms, quietP99Ms: quiet.p99Ms },
      },
      {
        name: 'Olist import beside a running host (npm run import without its build), wall time',
        unit: 's',
        value: round2(importSeconds),
        details: {
          events,
          appendSeconds: importElapsed,
          readModelSeconds: readModel,
          eventsPerSecond: events ? Math.round(events / importSeconds) : undefined,
        },
      },
    ];
    progress(
      `  health during import: p50 ${during.p50Ms} ms, p99 ${during.p99Ms} ms, max ${during.maxMs} ms, ` +
        `${during.timeouts}/${during.probes} timed out (quiet p99 ${quiet.p99Ms} ms); import ${round1(importSeconds)} s; load ${loadAtStart ?? '?'} → ${loadAverage() ?? '?'}`,
    );
    return stampLoad(figures, loadAtStart);
  } finally {
    if (timer) clearInterval(timer);
    if (host) await stopBenchHost(host);
    rmSync(dir, { recursive: true, force: true });
  }
}
