import { toRecord } from '../app/orderService';
import type { Services } from '../composition/services';
import { OrderEvent } from '../domain/events';
import { toOrderView } from '../domain/orderView';
import { StoredEventRecord } from '../ports/eventStore';

/** A figure, in the shape of `Measurement` in ./bench.ts. */
interface Figure {
  name: string;
  unit: string;
  value: number;
  details: Record<string, unknown>;
}

export interface CommandCostOptions {
  /** Events in an order's stream before the measured command. */
  sizes: number[];
  /** Rounds; each measures every size once, in an order rotated per round. */
  rounds: number;
  /** Orders per size and round: each gets one measured command. */
  ordersPerRound: number;
}

export const defaultCommandCostOptions: CommandCostOptions = {
  sizes: [10, 1000, 3000],
  rounds: 8,
  ordersPerRound: 20,
};

const at = '2026-01-02T10:00:00.000Z';
const products = 5;
const metadata = { actor: 'bench', correlationId: 'bench' };

/** One line of the order's history: the same few products again and again, so the order stays within its rules. */
const line = (k: number): OrderEvent => ({
  type: 'ProductAddedToOrder',
  data: { productId: `p-${k % products}`, quantity: 1, unitPrice: '1.00', currency: 'BRL', sellerId: 's-1' },
  occurredAt: at,
});

/**
 * Writes an order of `events` events straight to the store (OrderCreated, then lines, in commits of 100
 * events): the history the measured command meets.
 */
async function prefill(services: Services, orderId: string, events: number): Promise<void> {
  const all: StoredEventRecord[] = [
    toRecord({ type: 'OrderCreated', data: { customerId: 'c-bench' }, occurredAt: at }, metadata),
    ...Array.from({ length: events - 1 }, (_, k) => toRecord(line(k), metadata)),
  ];
  for (let v = 0; v < all.length; v += 100) {
    await services.store.append(orderId, v, all.slice(v, v + 100));
  }
}

const addItem = (services: Services, orderId: string) =>
  services.orders.handle(
    orderId,
    { type: 'AddProduct', line: line(0).data as OrderLineData, occurredAt: at },
    { metadata },
  );
type OrderLineData = Extract<OrderEvent, { type: 'ProductAddedToOrder' }>['data'];

/**
 * What `GET /api/orders/{orderId}` does once the caller is let in (src/handlers/orders.ts): the state read
 * from the head (`fold` false, as now) or folded from the whole stream (`fold` true, as before the read used
 * the head, and as `?asOf=` still does), and the order's view built from it (`orderResponse`, without its
 * two headers: src/bench does not import src/http).
 */
async function getOrder(services: Services, orderId: string, fold: boolean) {
  const loaded = fold ? await services.orders.load(orderId) : await services.orders.read(orderId);
  if (!loaded.state.exists || loaded.updatedAt === undefined) {
    throw new Error(`bench order ${orderId} does not exist`);
  }
  return toOrderView(orderId, loaded.state, loaded.version, loaded.updatedAt);
}

const median = (xs: number[]) => quantile(xs, 0.5);
/** The q-quantile by linear interpolation between the closest ranks. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const label = (n: number) => n.toLocaleString('en-US');

/**
 * The cost of one command (add a line, through `OrderService.handle` on the embedded store) as the order's
 * history grows. Each round, for each size in an order rotated per round: `ordersPerRound` fresh orders are
 * written with `size - 1` events, each gets one command that is not measured (so its head is what a live
 * order's head is, whatever the command handling keeps there), then one timed add-item each. The figure of a
 * size is the median of its timed commands over all rounds (the mean and p90 are in the details); the ratios
 * are against the smallest size, measured alternately in the same run. Each order is also read as
 * `GET /api/orders/{orderId}` reads it: timed from the head at `size` events, before the timed commands, and
 * by folding its stream (the read before ADR-0015's snapshot was used for it) after them, at `size` + 1
 * events: the GET figures ({@link getOrderFigures}).
 */
export async function commandCost(
  services: Services,
  options: CommandCostOptions = defaultCommandCostOptions,
  progress: (line: string) => void = () => {},
): Promise<Figure[]> {
  const { sizes, rounds, ordersPerRound } = options;
  const samples = new Map<number, number[]>(sizes.map((s) => [s, []]));
  const roundMedians = new Map<number, number[]>(sizes.map((s) => [s, []]));
  const reads = new Map<number, number[]>(sizes.map((s) => [s, []]));
  const folds = new Map<number, number[]>(sizes.map((s) => [s, []]));
  let seq = 0;
  for (let r = 0; r < rounds; r++) {
    const order = sizes.map((_, k) => sizes[(k + r) % sizes.length]);
    for (const size of order) {
      const ids = Array.from({ length: ordersPerRound }, () => `cost-${size}-${++seq}`);
      for (const id of ids) {
        await prefill(services, id, size - 1);
        await addItem(services, id); // not measured: the order now has `size` events
      }
      // A timed GET of each order at `size` events, from the head.
      for (const id of ids) {
        const started = performance.now();
        await getOrder(services, id, false);
        reads.get(size)!.push(performance.now() - started);
      }
      const times: number[] = [];
      for (const id of ids) {
        const started = performance.now();
        await addItem(services, id);
        times.push(performance.now() - started);
      }
      samples.get(size)!.push(...times);
      roundMedians.get(size)!.push(median(times));
      // Last, the same GET by folding the stream, as before (its garbage and the pages it reads would weigh on
      // the figures timed after it): the order now has one event more than `size`.
      for (const id of ids) {
        const started = performance.now();
        await getOrder(services, id, true);
        folds.get(size)!.push(performance.now() - started);
      }
    }
    progress(
      `  command cost, round ${r + 1}/${rounds} (median ms): ` +
        sizes.map((s) => `${label(s)} events ${round2(roundMedians.get(s)!.at(-1)!)}`).join(', ') +
        '; GET order: ' +
        sizes
          .map((s) => `${label(s)} events ${round2(median(reads.get(s)!.slice(-ordersPerRound)))}`)
          .join(', '),
    );
  }
  const ms = new Map(sizes.map((s) => [s, median(samples.get(s)!)]));
  const base = sizes[0];
  const largest = sizes[sizes.length - 1];
  const shared = { rounds, ordersPerRound, command: 'AddProduct (an existing line, +1 unit)' };
  const figures: Figure[] = sizes.map((size) => {
    const xs = samples.get(size)!;
    return {
      name: `command cost at ${label(size)} events (add item, OrderService, SQLite)`,
      unit: 'ms',
      value: round3(ms.get(size)!),
      details: {
        ...shared,
        events: size,
        commands: xs.length,
        meanMs: round3(xs.reduce((a, b) => a + b, 0) / xs.length),
        p90Ms: round3(quantile(xs, 0.9)),
        roundMediansMs: roundMedians.get(size)!.map(round3),
      },
    };
  });
  const ratios = Object.fromEntries(
    sizes.slice(1).map((s) => [`${s}/${base}`, round2(ms.get(s)! / ms.get(base)!)]),
  );
  const ratio = ms.get(largest)! / ms.get(base)!;
  figures.push({
    name: `command cost ratio, ${label(largest)} / ${label(base)} events (goal ≤ 1.5)`,
    unit: '×',
    value: round2(ratio),
    details: { ...shared, ratios, goal: 1.5, withinGoal: ratio <= 1.5 },
  });
  figures.push(...getOrderFigures(sizes, reads, folds, { rounds, ordersPerRound }));
  return figures;
}

/**
 * The figures of `GET /api/orders/{orderId}` without `asOf` (the state from the head, `OrderService.read`, and
 * the view built), per size, with the same read by folding the whole stream (`OrderService.load`, the read
 * before it used the head) on the same orders in the same rounds; and the ratio of the largest size to the
 * smallest.
 */
function getOrderFigures(
  sizes: number[],
  reads: Map<number, number[]>,
  folds: Map<number, number[]>,
  shared: { rounds: number; ordersPerRound: number },
): Figure[] {
  const ms = new Map(sizes.map((s) => [s, median(reads.get(s)!)]));
  const figures: Figure[] = sizes.map((size) => {
    const xs = reads.get(size)!;
    const fs = folds.get(size)!;
    return {
      name: `GET order at ${label(size)} events (state from the head, OrderService.read, SQLite)`,
      unit: 'ms',
      value: round3(ms.get(size)!),
      details: {
        ...shared,
        events: size,
        reads: xs.length,
        meanMs: round3(xs.reduce((a, b) => a + b, 0) / xs.length),
        p90Ms: round3(quantile(xs, 0.9)),
        foldEvents: size + 1,
        foldMedianMs: round3(median(fs)),
        foldP90Ms: round3(quantile(fs, 0.9)),
        foldOverHead: round2(median(fs) / ms.get(size)!),
      },
    };
  });
  // The peer of each size printed too, not only in the JSON: the "before" column of docs/performance.md.
  figures.push(
    ...sizes.map((size) => ({
      name: `GET order at ${label(size + 1)} events by folding the stream (before the head, OrderService.load)`,
      unit: 'ms',
      value: round3(median(folds.get(size)!)),
      details: { ...shared, events: size + 1, p90Ms: round3(quantile(folds.get(size)!, 0.9)) },
    })),
  );
  const base = sizes[0];
  const largest = sizes[sizes.length - 1];
  figures.push({
    name: `GET order cost ratio, ${label(largest)} / ${label(base)} events`,
    unit: '×',
    value: round2(ms.get(largest)! / ms.get(base)!),
    details: {
      ...shared,
      ratios: Object.fromEntries(
        sizes.slice(1).map((s) => [`${s}/${base}`, round2(ms.get(s)! / ms.get(base)!)]),
      ),
      foldRatio: round2(median(folds.get(largest)!) / median(folds.get(base)!)),
    },
  });
  return figures;
}
