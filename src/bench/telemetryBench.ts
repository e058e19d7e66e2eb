import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchHost as Host, call, median, startBenchHost, stopBenchHost } from './benchKit';

export interface TelemetryFigures {
  /** Commands per second with telemetry off and on: the median of the rounds. */
  offPerSecond: number;
  onPerSecond: number;
  /** 1 - on/off, in percent (negative: on was faster, within the noise). */
  costPercent: number;
  rounds: { off: number; on: number }[];
  commandsPerRound: number;
  inFlight: number;
  /** What the OTLP sink received from the host with telemetry on (proof that it was on). */
  exported: { requests: number; bytes: number };
}

/** One order's commands: create, add a line, submit (which starts its acceptance in the background). */
async function order(host: Host, orderId: string): Promise<void> {
  await call(host, 'POST', '/api/orders', { orderId, customerId: 'bench' });
  await call(host, 'POST', `/api/orders/${orderId}/items`, {
    productId: 'sku-bench',
    quantity: 1,
    unitPrice: '9.90',
    currency: 'EUR',
  });
  await call(host, 'POST', `/api/orders/${orderId}/submit`);
}

/** Waits until the host has decided the last order's acceptance: its background work of the block is done. */
async function settled(host: Host, orderId: string): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    const res = await fetch(`${host.base}/api/orders/${orderId}`, {
      headers: { authorization: host.authorization },
    });
    const view = (await res.json()) as { status?: string };
    if (view.status === 'accepted' || view.status === 'rejected') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`order ${orderId} was not decided in time`);
}

/** Runs `orders` orders, `inFlight` at a time; resolves commands per second of the request phase. */
async function block(host: Host, prefix: string, orders: number, inFlight: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < orders) await order(host, `${prefix}-${next++}`);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await settled(host, `${prefix}-${orders - 1}`);
  return (orders * 3) / seconds;
}

/**
 * Command throughput through the local host (HTTP → decide → append, with the change feed, the relay, the
 * topic, the consumers and the acceptance running in the same process) with telemetry off and on, in one run:
 * two hosts, one without OTEL_EXPORTER_OTLP_ENDPOINT and one exporting traces, metrics and logs over OTLP/HTTP
 * to a sink in this process, driven in alternating blocks (which goes first alternates too), each block after
 * the other host finished its background work. The figure is the median block of each.
 */
export async function telemetryCost(
  repoRoot: string,
  rounds = 6,
  ordersPerBlock = 100,
  inFlight = 4,
): Promise<TelemetryFigures> {
  const exported = { requests: 0, bytes: 0 };
  const sink: Server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (exported.bytes += c.length));
    req.on('end', () => {
      exported.requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const dirs = [
    mkdtempSync(join(tmpdir(), 'bench-otel-off-')),
    mkdtempSync(join(tmpdir(), 'bench-otel-on-')),
  ];
  const hosts: Host[] = [];
  try {
    const common = { LOCAL_CHANGE_FEED_POLL_MS: '200', LOG_LEVEL: 'information' };
    hosts.push(await startBenchHost(repoRoot, dirs[0], join(dirs[0], 'host.log'), common));
    hosts.push(
      await startBenchHost(repoRoot, dirs[1], join(dirs[1], 'host.log'), {
        ...common,
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRIC_EXPORT_INTERVAL: '5000',
      }),
    );
    const [off, on] = hosts;
    // Warm-up (JIT, statement caches, the first orchestrations), not measured.
    await block(off, 'warm', 20, inFlight);
    await block(on, 'warm', 20, inFlight);
    const results: { off: number; on: number }[] = [];
    for (let k = 0; k < rounds; k++) {
      const round = { off: 0, on: 0 };
      const turns: ['off' | 'on', Host][] =
        k % 2 === 0
          ? [
              ['off', off],
              ['on', on],
            ]
          : [
              ['on', on],
              ['off', off],
            ];
      for (const [mode, host] of turns) round[mode] = await block(host, `r${k}`, ordersPerBlock, inFlight);
      results.push(round);
    }
    const offPerSecond = median(results.map((r) => r.off));
    const onPerSecond = median(results.map((r) => r.on));
    return {
      offPerSecond: Math.round(offPerSecond),
      onPerSecond: Math.round(onPerSecond),
      costPercent: Math.round((1 - onPerSecond / offPerSecond) * 1000) / 10,
      rounds: results.map((r) => ({ off: Math.round(r.off), on: Math.round(r.on) })),
      commandsPerRound: ordersPerBlock * 3,
      inFlight,
      exported,
    };
  } finally {
    for (const host of hosts) await stopBenchHost(host);
    sink.closeAllConnections();
    sink.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
