import { OrderJourney } from '../../ports/journeyStore';
import { TimeBasis, TimedEvent, timeline } from './journey';
import { quantile, ratio } from './stats';

/** The default funnel: an order's way from creation to delivery. */
export const defaultFunnelSteps = [
  'OrderCreated',
  'ProductAddedToOrder',
  'OrderSubmitted',
  'OrderAccepted',
  'OrderShipped',
  'OrderDelivered',
] as const;

/** What a breakdown splits the funnel by: a property of the order (for customers, of their counted order). */
export type FunnelBreakdown = 'referralCode' | 'customerState' | 'currency';

export interface FunnelQuery {
  /** Event types, in order (1 or more; the same type may appear twice). */
  steps: readonly string[];
  /** Entry into the funnel (the first step's event) at or after this time, ISO 8601; none = no lower bound. */
  from?: string;
  /** Entry into the funnel before this time (exclusive), ISO 8601; none = no upper bound. */
  to?: string;
  /** Every later step must happen within this many seconds of the entry; none = no limit. */
  windowSeconds?: number;
  /** Count orders, or customers (a customer counts at a step when one of their orders reaches it). */
  countBy: 'orders' | 'customers';
  breakdown?: FunnelBreakdown;
  /** Business time (`occurredAt`) or recorded time (`recordedAt`). */
  time: TimeBasis;
}

export interface FunnelStep {
  /** 1-based position. */
  step: number;
  eventType: string;
  /** Orders (or customers) that reached this step. */
  count: number;
  /** count / the previous step's count (0-1); null for the first step or when the previous count is 0. */
  conversionFromPrevious: number | null;
  /** count / the first step's count (0-1); null when the first count is 0. */
  conversionFromFirst: number | null;
  /** The previous step's count minus this one's (0 for the first step). */
  dropOff: number;
  /** Median time from the previous step to this one, in seconds; null for the first step or nobody. */
  medianSecondsToConvert: number | null;
  /** 90th percentile of that time, in seconds (the same interpolation as the median, src/analytics/funnel/stats.ts). */
  p90SecondsToConvert: number | null;
}

export interface FunnelGroup {
  /** The breakdown value; null for orders without one (no referral code, no recorded state, no line). */
  key: string | null;
  steps: FunnelStep[];
}

export interface FunnelResult {
  steps: FunnelStep[];
  /** Present when the query asked for a breakdown: one group per value, most entries first, then by key. */
  breakdown?: FunnelGroup[];
}

/** How far one order got: the times (ms) of the steps it reached, in order. */
interface Progress {
  journey: OrderJourney;
  times: number[];
}

/**
 * How far an order gets through `steps`: it enters at its first event of the first step's type (if that is
 * within [from, to)), then each next step is the earliest later event of that type (later in time on the basis,
 * ties by stream version) within the window of the entry. Greedy earliest matching reaches the deepest step
 * an ordered funnel allows. Undefined when the order does not enter.
 */
function progressOf(
  journey: OrderJourney,
  query: FunnelQuery,
  from: number,
  to: number,
): Progress | undefined {
  const events: TimedEvent[] = timeline(journey, query.time);
  const entry = events.findIndex((e) => e.type === query.steps[0]);
  if (entry < 0) return undefined;
  const start = events[entry].at;
  if (start < from || start >= to) return undefined;
  const limit = query.windowSeconds === undefined ? Infinity : start + query.windowSeconds * 1000;
  const times = [start];
  let position = entry;
  for (let k = 1; k < query.steps.length; k++) {
    let next = -1;
    for (let i = position + 1; i < events.length; i++) {
      if (events[i].at > limit) break;
      if (events[i].type === query.steps[k]) {
        next = i;
        break;
      }
    }
    if (next < 0) break;
    times.push(events[next].at);
    position = next;
  }
  return { journey, times };
}

/** The per-step figures of a set of progresses. */
function stepsOf(steps: readonly string[], progresses: readonly Progress[]): FunnelStep[] {
  const counts = steps.map((_, k) => progresses.filter((p) => p.times.length > k).length);
  return steps.map((eventType, k) => {
    const durations =
      k === 0
        ? []
        : progresses.filter((p) => p.times.length > k).map((p) => (p.times[k] - p.times[k - 1]) / 1000);
    return {
      step: k + 1,
      eventType,
      count: counts[k],
      conversionFromPrevious: k === 0 ? null : ratio(counts[k], counts[k - 1]),
      conversionFromFirst: ratio(counts[k], counts[0]),
      dropOff: k === 0 ? 0 : counts[k - 1] - counts[k],
      medianSecondsToConvert: quantile(durations, 0.5),
      p90SecondsToConvert: quantile(durations, 0.9),
    };
  });
}

/**
 * The customer's counted order: the one that got furthest, the earliest entry among equals (then the lowest
 * order id); its times and properties are the customer's.
 */
function perCustomer(progresses: readonly Progress[]): Progress[] {
  const best = new Map<string, Progress>();
  for (const p of progresses) {
    const current = best.get(p.journey.customerId);
    if (
      !current ||
      p.times.length > current.times.length ||
      (p.times.length === current.times.length &&
        (p.times[0] < current.times[0] ||
          (p.times[0] === current.times[0] && p.journey.orderId < current.journey.orderId)))
    ) {
      best.set(p.journey.customerId, p);
    }
  }
  return [...best.values()];
}

const keyOf = (journey: OrderJourney, breakdown: FunnelBreakdown): string | null =>
  journey[breakdown] ?? null;

/** The entries that reached a step of the funnel but not the next: what a step's drop-off is made of. */
export interface FunnelDropOffs {
  /** 1-based step the entries reached. */
  step: number;
  eventType: string;
  /** The step they did not reach; null for the last step (nobody drops after it). */
  nextEventType: string | null;
  /** How many: the next step's `dropOff` (0 for the last step). */
  total: number;
  /** Up to `limit` entries, earliest entry first (then by customer id): a customer and the counted order(s). */
  items: { customerId: string; orderIds: string[] }[];
}

/** The progresses of `query` over `journeys`, one per order, or per customer (its counted order). */
function progressesOf(journeys: Iterable<OrderJourney>, query: FunnelQuery): Progress[] {
  if (query.steps.length === 0) throw new RangeError('a funnel needs at least one step');
  const from = query.from === undefined ? -Infinity : Date.parse(query.from);
  const to = query.to === undefined ? Infinity : Date.parse(query.to);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new RangeError('from and to must be ISO 8601 times');
  const progresses: Progress[] = [];
  for (const journey of journeys) {
    const p = progressOf(journey, query, from, to);
    if (p) progresses.push(p);
  }
  return query.countBy === 'customers' ? perCustomer(progresses) : progresses;
}

/**
 * Who reached step `step` (1-based) of the funnel of `query` but not step `step + 1`, by the same matching as
 * {@link computeFunnel}, so `total` equals the next step's `dropOff`. With `countBy: 'customers'` an item is a
 * customer and the order counted for them; otherwise an order and its customer.
 * @throws RangeError for no steps, a step outside 1..steps.length, a limit below 0, or a bad `from`/`to`
 */
export function funnelDropOffs(
  journeys: Iterable<OrderJourney>,
  query: FunnelQuery,
  step: number,
  limit: number,
): FunnelDropOffs {
  if (!Number.isInteger(step) || step < 1 || step > query.steps.length) {
    throw new RangeError(`step must be between 1 and ${query.steps.length}`);
  }
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number ≥ 0');
  const last = step === query.steps.length;
  const stopped = last
    ? []
    : progressesOf(journeys, query)
        .filter((p) => p.times.length === step)
        .sort(
          (a, b) =>
            a.times[0] - b.times[0] ||
            (a.journey.customerId < b.journey.customerId
              ? -1
              : a.journey.customerId > b.journey.customerId
                ? 1
                : 0) ||
            (a.journey.orderId < b.journey.orderId ? -1 : 1),
        );
  return {
    step,
    eventType: query.steps[step - 1],
    nextEventType: last ? null : query.steps[step],
    total: stopped.length,
    items: stopped
      .slice(0, limit)
      .map((p) => ({ customerId: p.journey.customerId, orderIds: [p.journey.orderId] })),
  };
}

/**
 * The funnel of `query` over `journeys` (pure; see docs/analytics.md, "Funnels, journeys and process maps").
 * Counts are orders or customers; conversions are fractions (0-1); times are seconds.
 * @throws RangeError for no steps, or a `from`/`to` that is not a date
 */
export function computeFunnel(journeys: Iterable<OrderJourney>, query: FunnelQuery): FunnelResult {
  const progresses = progressesOf(journeys, query);
  const result: FunnelResult = { steps: stepsOf(query.steps, progresses) };
  if (query.breakdown) {
    const breakdown = query.breakdown;
    // A Map: the keys are values from events (referral codes, states), never object keys.
    const groups = new Map<string | null, Progress[]>();
    for (const p of progresses) {
      const key = keyOf(p.journey, breakdown);
      const list = groups.get(key);
      if (list) list.push(p);
      else groups.set(key, [p]);
    }
    result.breakdown = [...groups.entries()]
      .map(([key, list]) => ({ key, steps: stepsOf(query.steps, list) }))
      .sort(
        (a, b) =>
          b.steps[0].count - a.steps[0].count ||
          (a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
      );
  }
  return result;
}
