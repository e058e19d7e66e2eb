import { OrderJourney } from '../../ports/journeyStore';
import { defaultFunnelSteps } from './funnel';
import { TimeBasis, timeline } from './journey';
import { quantile, ratio } from './stats';

/**
 * The happy path: the default funnel's steps, each once, in this order. Repeats of a step in a row (several
 * ProductAddedToOrder lines) count as one, and StockReserved (the acceptance's bookkeeping between submit and
 * accept, one per line) is not a step.
 */
export const happyPath: readonly string[] = defaultFunnelSteps;
const notSteps = new Set(['StockReserved']);

export interface ProcessMapQuery {
  /** Orders whose first event is at or after this time, ISO 8601; none = no lower bound. */
  from?: string;
  /** Orders whose first event is before this time (exclusive), ISO 8601; none = no upper bound. */
  to?: string;
  time: TimeBasis;
}

export interface ProcessMapEdge {
  from: string;
  to: string;
  /** How many times `to` directly followed `from` within one order. */
  count: number;
  /** Median time between the two events, in seconds. */
  medianSeconds: number | null;
  /** 90th percentile of that time, in seconds. */
  p90Seconds: number | null;
}

export interface ProcessMap {
  /** Orders in the map. */
  orders: number;
  /** Per event type: its events, and the orders that have at least one. */
  nodes: { eventType: string; events: number; orders: number }[];
  /** The directly-follows graph, most frequent edge first (then by from, to). */
  edges: ProcessMapEdge[];
  /** Orders by the type of their first event. */
  start: { eventType: string; orders: number }[];
  /** Orders by the type of their last event. */
  end: { eventType: string; orders: number }[];
  happyPath: { steps: readonly string[]; orders: number; share: number | null };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** True when the order's event types, repeats in a row collapsed and StockReserved left out, are the happy path. */
export function followsHappyPath(types: readonly string[]): boolean {
  const collapsed: string[] = [];
  for (const t of types) {
    if (notSteps.has(t)) continue;
    if (collapsed[collapsed.length - 1] !== t) collapsed.push(t);
  }
  return collapsed.length === happyPath.length && collapsed.every((t, k) => t === happyPath[k]);
}

/**
 * The directly-follows graph of event types per order (pure): each order's events in time order on the basis
 * (ties by stream version, as the funnel), every consecutive pair an edge with the time between them.
 * @throws RangeError for a `from`/`to` that is not a date
 */
export function computeProcessMap(journeys: Iterable<OrderJourney>, query: ProcessMapQuery): ProcessMap {
  const from = query.from === undefined ? -Infinity : Date.parse(query.from);
  const to = query.to === undefined ? Infinity : Date.parse(query.to);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new RangeError('from and to must be ISO 8601 times');
  // Maps throughout: event types come from stored events, never plain-object keys.
  const nodes = new Map<string, { events: number; orders: number }>();
  const edges = new Map<string, { from: string; to: string; durations: number[] }>();
  const start = new Map<string, number>();
  const end = new Map<string, number>();
  let orders = 0;
  let happy = 0;
  for (const journey of journeys) {
    const events = timeline(journey, query.time);
    if (events.length === 0 || events[0].at < from || events[0].at >= to) continue;
    orders++;
    const seen = new Set<string>();
    for (const e of events) {
      const node = nodes.get(e.type) ?? { events: 0, orders: 0 };
      node.events++;
      if (!seen.has(e.type)) node.orders++;
      seen.add(e.type);
      nodes.set(e.type, node);
    }
    for (let i = 1; i < events.length; i++) {
      const key = JSON.stringify([events[i - 1].type, events[i].type]);
      const edge = edges.get(key) ?? { from: events[i - 1].type, to: events[i].type, durations: [] };
      edge.durations.push((events[i].at - events[i - 1].at) / 1000);
      edges.set(key, edge);
    }
    start.set(events[0].type, (start.get(events[0].type) ?? 0) + 1);
    const last = events[events.length - 1].type;
    end.set(last, (end.get(last) ?? 0) + 1);
    if (followsHappyPath(events.map((e) => e.type))) happy++;
  }
  const counted = (m: Map<string, number>) =>
    [...m.entries()]
      .map(([eventType, n]) => ({ eventType, orders: n }))
      .sort((a, b) => b.orders - a.orders || byName(a.eventType, b.eventType));
  return {
    orders,
    nodes: [...nodes.entries()]
      .map(([eventType, n]) => ({ eventType, ...n }))
      .sort((a, b) => byName(a.eventType, b.eventType)),
    edges: [...edges.values()]
      .map((e) => ({
        from: e.from,
        to: e.to,
        count: e.durations.length,
        medianSeconds: quantile(e.durations, 0.5),
        p90Seconds: quantile(e.durations, 0.9),
      }))
      .sort((a, b) => b.count - a.count || byName(a.from, b.from) || byName(a.to, b.to)),
    start: counted(start),
    end: counted(end),
    happyPath: { steps: happyPath, orders: happy, share: ratio(happy, orders) },
  };
}
