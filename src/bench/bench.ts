import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { toRecord } from '../app/orderService';
import { createServices, Services } from '../composition/services';
import { readSettings } from '../config/settings';
import { OrderEvent } from '../domain/events';
import { importOlist } from '../import/olist';
import { defaultBatchCommands } from '../import/importRun';
import { eventGridEndToEnd } from './eventGridBench';
import { telemetryCost } from './telemetryBench';
import { lakeWriters } from './lakeBench';
import { commandCost } from './commandCostBench';
import { deliveryBacklog, defaultDeliveryBacklogOptions } from './deliveryBench';
import { httpPeers } from './httpPeersBench';
import { storeAppend } from './storeAppendBench';
import { healthDuringImport } from './healthDuringImportBench';
import { oneOrderContention } from './contentionBench';
import { loadAverage } from './benchKit';

/**
 * `npm run bench`: measures the embedded (SQLite) store and the Olist import on a fresh temporary
 * DATA_DIR each, prints the figures and writes them with machine information to bench-results/bench.json.
 * `npm run bench -- <name> ...` runs only the benchmarks whose names contain one of the words (for example
 * `command-cost`) and writes bench-results/bench.<words>.json, leaving the full run's file alone.
 *
 * To add a figure, add an entry to `benchmarks`: a name and a function returning measurements (or a
 * skip note when its input is absent).
 */

export interface Measurement {
  name: string;
  unit: string;
  value: number;
  details: Record<string, unknown>;
}

interface Skipped {
  name: string;
  skipped: string;
}

interface Benchmark {
  name: string;
  run(services: Services): Promise<Measurement[] | Skipped>;
}

/** The repository root: this file runs from dist/src/bench. */
const repoRoot = resolve(__dirname, '../../..');

/**
 * The delivery-backlog rows: 90k events queued for one webhook, drained by the local topic, beside the ceiling
 * (src/bench/deliveryBench.ts); with `maxEventsPerBatch`, the webhook subscription batches its deliveries.
 */
async function deliveryBacklogRows(maxEventsPerBatch?: number): Promise<Measurement[]> {
  const label = maxEventsPerBatch ? ` (maxEventsPerBatch ${maxEventsPerBatch})` : '';
  const f = await deliveryBacklog(repoRoot, {
    ...defaultDeliveryBacklogOptions,
    ...(maxEventsPerBatch ? { maxEventsPerBatch } : {}),
    progress: (line) => console.error(line),
  });
  const drain = {
    events: f.events,
    published: f.published,
    delivered: f.delivered,
    seconds: f.seconds,
    perTenth: f.perTenth,
    functionsDoneAfterSeconds: f.functionsDoneAfterSeconds,
    afterFunctionsPerSecond: f.afterFunctionsPerSecond,
    publishSeconds: f.publishSeconds,
    duplicates: f.duplicates,
    hostCpuPercent: f.hostCpuPercent,
  };
  return [
    {
      name: `backlog of 90k events delivered to one webhook by the local topic${label}`,
      unit: 'events/s',
      value: f.deliveredPerSecond,
      details: drain,
    },
    {
      name: `the same webhook fed by a loop of POSTs, 4 in flight (ceiling)${label}`,
      unit: 'events/s',
      value: f.ceiling.perSecond,
      details: { ...f.ceiling },
    },
    {
      name: `backlog delivery / ceiling${label}`,
      unit: 'ratio',
      value: f.ratioToCeiling,
      details: { goalEventsPerSecond: 5_000 },
    },
    {
      name: `/api/health during the drain, p50${label}`,
      unit: 'ms',
      value: f.healthDuringDrain.p50Ms,
      details: { ...f.healthDuringDrain, idleHost: f.healthIdle },
    },
    {
      name: `/api/health during the drain, p99${label}`,
      unit: 'ms',
      value: f.healthDuringDrain.p99Ms,
      details: { ...f.healthDuringDrain, idleHost: f.healthIdle, goalP99Ms: 100 },
    },
    {
      name: `/api/health on the idle host, p99${label}`,
      unit: 'ms',
      value: f.healthIdle.p99Ms,
      details: { ...f.healthIdle },
    },
  ];
}

const olistDir = resolve(process.env.OLIST_DIR ?? join(repoRoot, '../shared/data/olist'));

const at = '2026-01-02T10:00:00.000Z';

/** The events of one commit of `size` events: an OrderCreated followed by lines, like a real stream. */
function commitEvents(first: boolean, size: number, seq: number): OrderEvent[] {
  return Array.from({ length: size }, (_, k): OrderEvent => {
    if (first && k === 0) return { type: 'OrderCreated', data: { customerId: `c-${seq}` }, occurredAt: at };
    return {
      type: 'ProductAddedToOrder',
      data: { productId: `p-${seq}-${k}`, quantity: 1, unitPrice: '19.90', currency: 'BRL', sellerId: 's-1' },
      occurredAt: at,
    };
  });
}

/**
 * Appends `commits` commits of `eventsPerCommit` events straight to the store (no decider), round-robin
 * over `streams` streams, each append with the stream's current version as expected version.
 */
async function appendThroughput(
  services: Services,
  eventsPerCommit: number,
  commits = 2_000,
  streams = 200,
): Promise<Measurement> {
  const metadata = { actor: 'bench', correlationId: 'bench' };
  // Warm-up on other streams (JIT, statement caches), not measured.
  for (let k = 0; k < 200; k++) {
    const records = commitEvents(true, eventsPerCommit, k).map((e) => toRecord(e, metadata));
    await services.store.append(`warm-up-${eventsPerCommit}-${k}`, 0, records);
  }
  const versions = new Array<number>(streams).fill(0);
  const prefix = `bench-${eventsPerCommit}-`;
  const started = performance.now();
  for (let k = 0; k < commits; k++) {
    const s = k % streams;
    const records = commitEvents(versions[s] === 0, eventsPerCommit, k).map((e) => toRecord(e, metadata));
    const result = await services.store.append(prefix + s, versions[s], records);
    versions[s] = result.version;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    name: `store.append, ${eventsPerCommit} event(s) per commit`,
    unit: 'commits/s',
    value: Math.round(commits / seconds),
    details: {
      commits,
      streams,
      eventsPerCommit,
      events: commits * eventsPerCommit,
      eventsPerSecond: Math.round((commits * eventsPerCommit) / seconds),
      seconds: round(seconds),
    },
  };
}

const progress = (line: string) => console.error(line);

const noOlistData = (): Skipped | undefined =>
  existsSync(join(olistDir, 'olist_orders_dataset.csv'))
    ? undefined
    : { name: 'olist import', skipped: `no Olist data at ${olistDir} (set OLIST_DIR)` };

const benchmarks: Benchmark[] = [
  {
    name: 'eventgrid-end-to-end',
    run: async () => {
      const f = await eventGridEndToEnd(repoRoot);
      return [
        {
          name: 'HTTP answer → CloudEvent at a webhook, p50',
          unit: 'ms',
          value: f.latency.p50Ms,
          details: { ...f.latency, changeFeedPollMs: f.pollMs },
        },
        {
          name: 'HTTP answer → CloudEvent at a webhook, p99',
          unit: 'ms',
          value: f.latency.p99Ms,
          details: f.latency,
        },
        {
          name: 'events published and delivered to a webhook',
          unit: 'events/s',
          value: f.throughput.deliveredPerSecond,
          details: f.throughput,
        },
      ];
    },
  },
  { name: 'event-lake', run: (s) => lakeWriters(s) },
  { name: 'delivery-backlog', run: () => deliveryBacklogRows() },
  { name: 'delivery-backlog-batched', run: () => deliveryBacklogRows(100) },
  {
    name: 'telemetry-on-off',
    run: async () => {
      const f = await telemetryCost(repoRoot);
      const details = { rounds: f.rounds, commandsPerRound: f.commandsPerRound, inFlight: f.inFlight };
      return [
        {
          name: 'commands through the local host, telemetry off',
          unit: 'commands/s',
          value: f.offPerSecond,
          details,
        },
        {
          name: 'commands through the local host, telemetry on (OTLP/HTTP)',
          unit: 'commands/s',
          value: f.onPerSecond,
          details: { ...details, exportedToSink: f.exported },
        },
        {
          name: 'telemetry cost in command throughput (limit 15 %)',
          unit: '%',
          value: f.costPercent,
          details: { limitPercent: 15, withinLimit: f.costPercent <= 15 },
        },
      ];
    },
  },
  {
    name: 'command-cost',
    run: (s) => commandCost(s, undefined, (line) => console.error(line)),
  },
  { name: 'append-1', run: async (s) => [await appendThroughput(s, 1)] },
  { name: 'append-10', run: async (s) => [await appendThroughput(s, 10)] },
  // Peers side by side, alternating in one run, with ratios (issue 14, point 5).
  { name: 'http-commands', run: () => httpPeers(repoRoot, 'commands', undefined, progress) },
  { name: 'http-reads', run: () => httpPeers(repoRoot, 'reads', undefined, progress) },
  { name: 'store-append', run: () => storeAppend(undefined, progress) },
  {
    name: 'health-during-import',
    run: async () => {
      const absent = noOlistData();
      if (absent) return { ...absent, name: '/api/health during the Olist import' };
      return healthDuringImport(repoRoot, olistDir, undefined, progress);
    },
  },
  { name: 'one-order-contention', run: () => oneOrderContention(repoRoot, undefined, progress) },
  {
    name: 'olist-import',
    run: async (services) => {
      const absent = noOlistData();
      if (absent) return absent;
      const loadAtStart = loadAverage();
      const cpuBefore = process.cpuUsage();
      const first = await importOlist(olistDir, services);
      // CPU time as well as wall time: on a shared machine the wall time moves with the others' load.
      const cpu = process.cpuUsage(cpuBefore);
      const second = await importOlist(olistDir, services);
      const total = first.elapsedSeconds + (first.readModel?.elapsedSeconds ?? 0);
      const load = { atStart: loadAtStart, atEnd: loadAverage() };
      return [
        {
          name: 'olist import (group commits, one commit per command)',
          unit: 'events/s',
          value: Math.round(first.eventsPerSecond),
          details: {
            orders: first.orders,
            commands: first.commandsSent,
            events: first.eventsAppended,
            seconds: round(first.elapsedSeconds),
            groupCommits: first.groupCommits,
            batchCommands: defaultBatchCommands,
          },
        },
        {
          name: 'olist import, read-model catch-up',
          unit: 'commits/s',
          value: Math.round((first.readModel?.commits ?? 0) / (first.readModel?.elapsedSeconds || 1)),
          details: { ...first.readModel, elapsedSeconds: round(first.readModel?.elapsedSeconds ?? 0) },
        },
        {
          name: 'olist import, total including read model',
          unit: 's',
          value: round(total),
          details: {
            eventsPerSecond: Math.round(first.eventsAppended / total),
            cpuSeconds: round((cpu.user + cpu.system) / 1e6),
            loadAverage: load,
          },
        },
        {
          name: 'olist import, second run (nothing to append)',
          unit: 's',
          value: round(second.elapsedSeconds + (second.readModel?.elapsedSeconds ?? 0)),
          details: {
            eventsAppended: second.eventsAppended,
            ordersAlreadyComplete: second.ordersAlreadyComplete,
          },
        },
      ];
    },
  },
  {
    // How the batch size was chosen: the append phase (no read model) at several commands per transaction,
    // each on a fresh store, the sizes in a rotated order per round so that a busy machine moves them alike.
    name: 'olist-batch-size',
    run: async () => {
      const absent = noOlistData();
      if (absent) return { ...absent, name: 'olist import by batch size' };
      const sizes = [1, 100, defaultBatchCommands, 5000];
      const seconds = new Map<number, number[]>(sizes.map((n) => [n, []]));
      const rounds = 2;
      let events = 0;
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < sizes.length; k++) {
          const size = sizes[(k + r) % sizes.length];
          const dir = mkdtempSync(join(tmpdir(), 'bench-olist-batch-'));
          const services = createServices(readSettings({ DATA_DIR: dir, EVENT_STORE: 'sqlite', PORT: '0' }));
          try {
            const s = await importOlist(olistDir, services, { batchCommands: size, catchUp: false });
            seconds.get(size)!.push(s.elapsedSeconds);
            events = s.eventsAppended;
            progress(`  batch ${size} commands: ${round(s.elapsedSeconds)} s`);
          } finally {
            await services.close();
            rmSync(dir, { recursive: true, force: true });
          }
        }
      }
      return sizes.map((size) => {
        const runs = seconds.get(size)!;
        const median = [...runs].sort((a, b) => a - b)[Math.floor((runs.length - 1) / 2)];
        return {
          name: `olist import, ${size} command(s) per transaction, without the read model`,
          unit: 's',
          value: round(median),
          details: { batchCommands: size, runs: runs.map(round), events },
        };
      });
    },
  },
];

const round = (x: number) => Math.round(x * 100) / 100;

/** A figure as printed: thousands separated; a ratio (× or ratio) with two decimals, as docs/performance.md has them. */
const formatValue = (m: Measurement) =>
  m.value.toLocaleString('en-US', m.unit === '×' || m.unit === 'ratio' ? { minimumFractionDigits: 2 } : {});

async function main(): Promise<void> {
  const measurements: Measurement[] = [];
  const skipped: Skipped[] = [];
  const only = process.argv.slice(2);
  const names = `benchmarks: ${benchmarks.map((b) => b.name).join(', ')}`;
  if (only.some((w) => w === '--help' || w === '-h' || w === '--list')) {
    console.log(
      `npm run bench [-- <word> ...]: runs the benchmarks whose names contain a word (all without one)\n${names}`,
    );
    return;
  }
  const selected = only.length ? benchmarks.filter((b) => only.some((w) => b.name.includes(w))) : benchmarks;
  if (selected.length === 0) {
    console.error(`no benchmark matches ${only.join(', ')}; ${names}`);
    process.exitCode = 2;
    return;
  }
  for (const bench of selected) {
    // A fresh store per benchmark, so one's data does not slow the next.
    const dataDir = mkdtempSync(join(tmpdir(), `bench-${bench.name}-`));
    const services = createServices(readSettings({ DATA_DIR: dataDir, EVENT_STORE: 'sqlite', PORT: '0' }));
    try {
      console.error(`running ${bench.name} ...`);
      const result = await bench.run(services);
      if (Array.isArray(result)) measurements.push(...result);
      else skipped.push(result);
    } finally {
      await services.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    store: 'sqlite (libsql, WAL, synchronous=NORMAL) in a temporary DATA_DIR',
    measurements,
    skipped,
  };
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(
    outDir,
    only.length ? `bench.${only.join('+').replace(/[^\w.+-]/g, '_')}.json` : 'bench.json',
  );
  writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

  const width = Math.max(...measurements.map((m) => m.name.length));
  console.log(
    `bench ${report.date}: ${report.machine.cpus} cpus (${report.machine.cpuModel}), node ${report.machine.node}`,
  );
  for (const m of measurements) console.log(`  ${m.name.padEnd(width)}  ${formatValue(m)} ${m.unit}`);
  for (const s of skipped) console.log(`  ${s.name}: skipped, ${s.skipped}`);
  console.log(`written to ${outFile}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
