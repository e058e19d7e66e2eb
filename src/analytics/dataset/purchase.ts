import { DatasetEvent, knownAtMs } from './datasetEvent';

/**
 * Leak-free training rows for purchase prediction (docs/analytics.md, "Leak-free training sets"): for an
 * observation time t, one row per customer known at t and one per order open at t, with features computed only
 * from the events known at t ({@link knownAtMs}: `occurredAt ≤ t` and `recordedAt ≤ t`, business time alone for
 * imported history) and the label "a submitted or accepted order in (t, t + horizon]" by business time.
 * Pure: no I/O, no clock; times are epoch milliseconds.
 */

export const dayMs = 86_400_000;

/** A row's entity: a customer known at t, or an order open (draft or submitted) at t. */
export type PurchaseEntity = 'customer' | 'order';

/** Status of an open order at t, from its last known lifecycle event. */
export type OpenStatus = 'draft' | 'submitted';

/**
 * One training row. Times are epoch milliseconds (UTC); durations are days (fractional); money is float64 major
 * units of the order's currency, not converted between currencies. `c_*` columns describe the customer (on both
 * entities: an order row carries its customer's history), `o_*` the open order (null on customer rows).
 */
export interface PurchaseRow {
  observation_time: number;
  entity: PurchaseEntity;
  customer_id: string;
  order_id: string | null;
  imported_history: boolean;
  c_orders: number;
  c_orders_submitted: number;
  c_orders_accepted: number;
  c_orders_rejected: number;
  c_orders_cancelled: number;
  c_orders_shipped: number;
  c_orders_delivered: number;
  c_open_orders: number;
  c_days_since_first_order: number;
  c_days_since_last_order: number;
  c_days_since_last_submit: number | null;
  c_submitted_value: number;
  c_units_added: number;
  c_lines_removed: number;
  c_events_30d: number;
  c_referred: boolean;
  o_status: OpenStatus | null;
  o_age_days: number | null;
  o_lines: number | null;
  o_units: number | null;
  o_value: number | null;
  o_days_since_last_event: number | null;
  o_stock_reserved: number | null;
  o_stock_failures: number | null;
  label: boolean;
}

/** A row without its label: everything computed from what was known at t. */
export type PurchaseFeatureRow = Omit<PurchaseRow, 'label'>;

/** Column types of the written table (Parquet: TIMESTAMP with UTC adjustment, VARCHAR, BOOLEAN, BIGINT, DOUBLE). */
export type ColumnType = 'timestamp' | 'string' | 'boolean' | 'integer' | 'double';

export interface ColumnSpec {
  name: keyof PurchaseRow;
  type: ColumnType;
  nullable: boolean;
  role: 'key' | 'marker' | 'feature' | 'label';
  definition: string;
}

const c = (
  name: keyof PurchaseRow,
  type: ColumnType,
  role: ColumnSpec['role'],
  definition: string,
  nullable = false,
): ColumnSpec => ({ name, type, nullable, role, definition });

/** The table's columns in order, with their definitions (the dataset card lists them). */
export const purchaseColumns: readonly ColumnSpec[] = [
  c(
    'observation_time',
    'timestamp',
    'key',
    'the observation time t (UTC); features use only events known at t',
  ),
  c(
    'entity',
    'string',
    'key',
    '"customer" (one row per customer known at t) or "order" (one row per open order)',
  ),
  c('customer_id', 'string', 'key', 'the customer (of the order, on order rows)'),
  c('order_id', 'string', 'key', 'the open order; null on customer rows', true),
  c(
    'imported_history',
    'boolean',
    'marker',
    'true when an event used for this row is imported history, known by business time alone',
  ),
  c('c_orders', 'integer', 'feature', "customer's orders created (OrderCreated known at t)"),
  c('c_orders_submitted', 'integer', 'feature', 'of those, orders with an OrderSubmitted known at t'),
  c('c_orders_accepted', 'integer', 'feature', 'orders with an OrderAccepted known at t'),
  c('c_orders_rejected', 'integer', 'feature', 'orders with an OrderRejected known at t'),
  c('c_orders_cancelled', 'integer', 'feature', 'orders with an OrderCancelled known at t'),
  c('c_orders_shipped', 'integer', 'feature', 'orders with an OrderShipped known at t'),
  c('c_orders_delivered', 'integer', 'feature', 'orders with an OrderDelivered known at t'),
  c(
    'c_open_orders',
    'integer',
    'feature',
    'orders whose last known lifecycle event leaves them draft or submitted',
  ),
  c('c_days_since_first_order', 'double', 'feature', 'days from the first known OrderCreated to t'),
  c('c_days_since_last_order', 'double', 'feature', 'days from the last known OrderCreated to t'),
  c(
    'c_days_since_last_submit',
    'double',
    'feature',
    'days from the last known OrderSubmitted to t; null when none',
    true,
  ),
  c(
    'c_submitted_value',
    'double',
    'feature',
    'sum of known OrderSubmitted totals, major units, no conversion',
  ),
  c(
    'c_units_added',
    'integer',
    'feature',
    'units added to any of the orders (ProductAddedToOrder quantities)',
  ),
  c('c_lines_removed', 'integer', 'feature', 'ProductRemovedFromOrder events'),
  c(
    'c_events_30d',
    'integer',
    'feature',
    "known events of the customer's orders that occurred in (t - 30 days, t]",
  ),
  c('c_referred', 'boolean', 'feature', 'an order was created with a referral code'),
  c('o_status', 'string', 'feature', 'order rows: "draft" or "submitted" at t', true),
  c('o_age_days', 'double', 'feature', 'order rows: days from its OrderCreated to t', true),
  c('o_lines', 'integer', 'feature', 'order rows: lines held at t (added, not removed)', true),
  c('o_units', 'integer', 'feature', 'order rows: units held at t', true),
  c('o_value', 'double', 'feature', 'order rows: sum of quantity × unit price held at t, major units', true),
  c('o_days_since_last_event', 'double', 'feature', 'order rows: days from its last known event to t', true),
  c('o_stock_reserved', 'integer', 'feature', 'order rows: StockReserved events known at t', true),
  c('o_stock_failures', 'integer', 'feature', 'order rows: StockReservationFailed events known at t', true),
  c(
    'label',
    'boolean',
    'label',
    'an OrderSubmitted or OrderAccepted of the customer (customer rows) or of the order (order rows) occurred in (t, t + horizon]',
  ),
];

/** An order's events in stream order: the builder groups once and reads the groups at every t. */
export interface OrderHistory {
  orderId: string;
  events: readonly DatasetEvent[];
}

/** Groups events by order, each group in version order. */
export function groupByOrder(events: readonly DatasetEvent[]): OrderHistory[] {
  const byOrder = new Map<string, DatasetEvent[]>();
  for (const e of events) {
    const list = byOrder.get(e.orderId);
    if (list) list.push(e);
    else byOrder.set(e.orderId, [e]);
  }
  return [...byOrder].map(([orderId, list]) => ({
    orderId,
    events: list.sort((a, b) => a.version - b.version),
  }));
}

interface OrderAtT {
  orderId: string;
  customerId: string;
  createdAt: number;
  referred: boolean;
  submitted: boolean;
  accepted: boolean;
  rejected: boolean;
  cancelled: boolean;
  shipped: boolean;
  delivered: boolean;
  lastSubmitAt: number | undefined;
  submittedValue: number;
  status: string;
  lines: Map<string, { quantity: number; unitPrice: number }>;
  unitsAdded: number;
  linesRemoved: number;
  lastEventAt: number;
  events30d: number;
  stockReserved: number;
  stockFailures: number;
  imported: boolean;
}

const lifecycleStatus: ReadonlyMap<string, string> = new Map([
  ['OrderSubmitted', 'submitted'],
  ['OrderAccepted', 'accepted'],
  ['OrderRejected', 'rejected'],
  ['OrderCancelled', 'cancelled'],
  ['OrderShipped', 'shipped'],
  ['OrderDelivered', 'delivered'],
]);

/**
 * What was known at `t` about one order, from its events known at t in stream order; undefined when its
 * OrderCreated is not known at t (the order cannot be attributed to a customer yet).
 * A filter, not the prefix of `asOf` reads: an event known later hides nothing known earlier.
 */
function orderAt(history: OrderHistory, t: number): OrderAtT | undefined {
  let o: OrderAtT | undefined;
  for (const e of history.events) {
    if (knownAtMs(e) > t) continue;
    const ev = e.event;
    if (!o) {
      if (ev.type !== 'OrderCreated' && ev.type !== 'OrderCreatedBasedOnAReferral') continue;
      o = {
        orderId: history.orderId,
        customerId: ev.data.customerId,
        createdAt: e.occurredAtMs,
        referred: ev.data.referralCode !== undefined,
        submitted: false,
        accepted: false,
        rejected: false,
        cancelled: false,
        shipped: false,
        delivered: false,
        lastSubmitAt: undefined,
        submittedValue: 0,
        status: 'draft',
        lines: new Map(),
        unitsAdded: 0,
        linesRemoved: 0,
        lastEventAt: e.occurredAtMs,
        events30d: 0,
        stockReserved: 0,
        stockFailures: 0,
        imported: false,
      };
    }
    o.imported ||= e.imported;
    o.lastEventAt = Math.max(o.lastEventAt, e.occurredAtMs);
    if (e.occurredAtMs > t - 30 * dayMs) o.events30d++;
    const status = lifecycleStatus.get(ev.type);
    if (status) o.status = status;
    switch (ev.type) {
      case 'ProductAddedToOrder': {
        const line = o.lines.get(ev.data.productId);
        const unitPrice = Number(ev.data.unitPrice);
        if (line) line.quantity += ev.data.quantity;
        else o.lines.set(ev.data.productId, { quantity: ev.data.quantity, unitPrice });
        o.unitsAdded += ev.data.quantity;
        break;
      }
      case 'ProductRemovedFromOrder':
        o.lines.delete(ev.data.productId);
        o.linesRemoved++;
        break;
      case 'OrderSubmitted':
        o.submitted = true;
        o.submittedValue += Number(ev.data.total);
        o.lastSubmitAt = Math.max(o.lastSubmitAt ?? -Infinity, e.occurredAtMs);
        break;
      case 'OrderAccepted':
        o.accepted = true;
        break;
      case 'OrderRejected':
        o.rejected = true;
        break;
      case 'OrderCancelled':
        o.cancelled = true;
        break;
      case 'OrderShipped':
        o.shipped = true;
        break;
      case 'OrderDelivered':
        o.delivered = true;
        break;
      case 'StockReserved':
        o.stockReserved++;
        break;
      case 'StockReservationFailed':
        o.stockFailures++;
        break;
      default:
        break;
    }
  }
  return o;
}

const isOpen = (o: OrderAtT): o is OrderAtT & { status: OpenStatus } =>
  o.status === 'draft' || o.status === 'submitted';

const days = (ms: number): number => ms / dayMs;

/** Rows sort by entity, customer, order: the same input gives the same row order. */
const compareRows = (a: PurchaseFeatureRow, b: PurchaseFeatureRow): number =>
  a.entity !== b.entity
    ? a.entity < b.entity
      ? -1
      : 1
    : a.customer_id !== b.customer_id
      ? a.customer_id < b.customer_id
        ? -1
        : 1
      : (a.order_id ?? '') < (b.order_id ?? '')
        ? -1
        : (a.order_id ?? '') > (b.order_id ?? '')
          ? 1
          : 0;

/**
 * The feature rows of observation time `t` (epoch ms) from order histories ({@link groupByOrder}): one per
 * customer with an OrderCreated known at t, one per order open at t. Uses only events with `knownAtMs(e) ≤ t`.
 */
export function featureRowsOf(histories: readonly OrderHistory[], t: number): PurchaseFeatureRow[] {
  const byCustomer = new Map<string, OrderAtT[]>();
  for (const h of histories) {
    const o = orderAt(h, t);
    if (!o) continue;
    const list = byCustomer.get(o.customerId);
    if (list) list.push(o);
    else byCustomer.set(o.customerId, [o]);
  }
  const rows: PurchaseFeatureRow[] = [];
  for (const [customerId, orders] of byCustomer) {
    const count = (p: (o: OrderAtT) => boolean) => orders.reduce((n, o) => n + (p(o) ? 1 : 0), 0);
    const sum = (f: (o: OrderAtT) => number) => orders.reduce((n, o) => n + f(o), 0);
    const submits = orders.flatMap((o) => (o.lastSubmitAt === undefined ? [] : [o.lastSubmitAt]));
    const customer: PurchaseFeatureRow = {
      observation_time: t,
      entity: 'customer',
      customer_id: customerId,
      order_id: null,
      imported_history: orders.some((o) => o.imported),
      c_orders: orders.length,
      c_orders_submitted: count((o) => o.submitted),
      c_orders_accepted: count((o) => o.accepted),
      c_orders_rejected: count((o) => o.rejected),
      c_orders_cancelled: count((o) => o.cancelled),
      c_orders_shipped: count((o) => o.shipped),
      c_orders_delivered: count((o) => o.delivered),
      c_open_orders: count(isOpen),
      c_days_since_first_order: days(t - Math.min(...orders.map((o) => o.createdAt))),
      c_days_since_last_order: days(t - Math.max(...orders.map((o) => o.createdAt))),
      c_days_since_last_submit: submits.length ? days(t - Math.max(...submits)) : null,
      c_submitted_value: sum((o) => o.submittedValue),
      c_units_added: sum((o) => o.unitsAdded),
      c_lines_removed: sum((o) => o.linesRemoved),
      c_events_30d: sum((o) => o.events30d),
      c_referred: orders.some((o) => o.referred),
      o_status: null,
      o_age_days: null,
      o_lines: null,
      o_units: null,
      o_value: null,
      o_days_since_last_event: null,
      o_stock_reserved: null,
      o_stock_failures: null,
    };
    rows.push(customer);
    for (const o of orders) {
      if (!isOpen(o)) continue;
      const lines = [...o.lines.values()];
      rows.push({
        ...customer,
        entity: 'order',
        order_id: o.orderId,
        imported_history: o.imported,
        o_status: o.status,
        o_age_days: days(t - o.createdAt),
        o_lines: lines.length,
        o_units: lines.reduce((n, l) => n + l.quantity, 0),
        o_value: lines.reduce((n, l) => n + l.quantity * l.unitPrice, 0),
        o_days_since_last_event: days(t - o.lastEventAt),
        o_stock_reserved: o.stockReserved,
        o_stock_failures: o.stockFailures,
      });
    }
  }
  return rows.sort(compareRows);
}

/** {@link featureRowsOf} straight from events, in any order: what the leakage property test checks. */
export const featureRowsAt = (events: readonly DatasetEvent[], t: number): PurchaseFeatureRow[] =>
  featureRowsOf(groupByOrder(events), t);

/**
 * When each order and each customer made a purchase (OrderSubmitted or OrderAccepted), by business time, from
 * every event (labels look ahead; features never read this). An order's customer is the one of its first
 * OrderCreated.
 */
export interface PurchaseTimes {
  byOrder: ReadonlyMap<string, readonly number[]>;
  byCustomer: ReadonlyMap<string, readonly number[]>;
}

export function purchaseTimesOf(histories: readonly OrderHistory[]): PurchaseTimes {
  const byOrder = new Map<string, number[]>();
  const byCustomer = new Map<string, number[]>();
  for (const h of histories) {
    const created = h.events.find(
      (e) => e.event.type === 'OrderCreated' || e.event.type === 'OrderCreatedBasedOnAReferral',
    );
    const times = h.events
      .filter((e) => e.event.type === 'OrderSubmitted' || e.event.type === 'OrderAccepted')
      .map((e) => e.occurredAtMs);
    byOrder.set(h.orderId, times);
    if (created && 'customerId' in created.event.data) {
      const customerId = created.event.data.customerId;
      const list = byCustomer.get(customerId);
      if (list) list.push(...times);
      else byCustomer.set(customerId, [...times]);
    }
  }
  return { byOrder, byCustomer };
}

const anyIn = (times: readonly number[] | undefined, from: number, to: number): boolean =>
  times?.some((x) => x > from && x <= to) ?? false;

/** The label of a feature row: a purchase of its customer (or order) in (t, t + horizonMs]. */
export function labelOf(row: PurchaseFeatureRow, purchases: PurchaseTimes, horizonMs: number): boolean {
  const t = row.observation_time;
  return row.entity === 'order'
    ? anyIn(purchases.byOrder.get(row.order_id ?? ''), t, t + horizonMs)
    : anyIn(purchases.byCustomer.get(row.customer_id), t, t + horizonMs);
}

export interface PurchaseDatasetOptions {
  /** Label window length, milliseconds (> 0). */
  horizonMs: number;
  /** Distance between observation times, milliseconds (> 0); default the horizon. */
  stepMs?: number;
  /** First observation time, epoch ms; default the first UTC midnight at or after the first event known. */
  from?: number;
  /** Last observation time asked for, epoch ms; default the end of the data minus the horizon. */
  to?: number;
}

export interface PurchaseDatasetSummary {
  events: number;
  importedEvents: number;
  /** The latest time anything is known (max of knownAt): the label window of a kept row ends at or before it. */
  dataEnd: number | null;
  /** The first known time (min of knownAt). */
  dataStart: number | null;
  horizonMs: number;
  stepMs: number;
  /** Observation times written (each with at least zero rows), first and last. */
  observationTimes: number;
  firstObservation: number | null;
  lastObservation: number | null;
  /** Observation times asked for whose label window passes the end of the data: dropped. */
  droppedObservationTimes: number;
  rows: number;
  positives: number;
  byEntity: Record<PurchaseEntity, { rows: number; positives: number }>;
  rowsWithImportedHistory: number;
}

export interface PurchaseDataset {
  rows: PurchaseRow[];
  summary: PurchaseDatasetSummary;
}

/**
 * Builds the training rows for every observation time `from + k × step ≤ to`, dropping the times whose label
 * window `(t, t + horizon]` passes the end of the data (the latest known time).
 * @throws RangeError for a horizon or step that is not a positive number of milliseconds, or `from > to`
 */
export function buildPurchaseDataset(
  events: readonly DatasetEvent[],
  options: PurchaseDatasetOptions,
): PurchaseDataset {
  const horizonMs = options.horizonMs;
  const stepMs = options.stepMs ?? horizonMs;
  if (!(horizonMs > 0) || !Number.isFinite(horizonMs)) throw new RangeError('the horizon must be positive');
  if (!(stepMs > 0) || !Number.isFinite(stepMs)) throw new RangeError('the step must be positive');
  let dataStart = Infinity;
  let dataEnd = -Infinity;
  for (const e of events) {
    const k = knownAtMs(e);
    if (k < dataStart) dataStart = k;
    if (k > dataEnd) dataEnd = k;
  }
  const summary: PurchaseDatasetSummary = {
    events: events.length,
    importedEvents: events.reduce((n, e) => n + (e.imported ? 1 : 0), 0),
    dataStart: events.length ? dataStart : null,
    dataEnd: events.length ? dataEnd : null,
    horizonMs,
    stepMs,
    observationTimes: 0,
    firstObservation: null,
    lastObservation: null,
    droppedObservationTimes: 0,
    rows: 0,
    positives: 0,
    byEntity: { customer: { rows: 0, positives: 0 }, order: { rows: 0, positives: 0 } },
    rowsWithImportedHistory: 0,
  };
  const rows: PurchaseRow[] = [];
  if (!events.length) return { rows, summary };
  const from = options.from ?? Math.ceil(dataStart / dayMs) * dayMs;
  const to = options.to ?? dataEnd - horizonMs;
  if (from > to && options.from !== undefined && options.to !== undefined) {
    throw new RangeError('--from is after --to');
  }
  const histories = groupByOrder(events);
  const purchases = purchaseTimesOf(histories);
  for (let t = from; t <= to; t += stepMs) {
    if (t + horizonMs > dataEnd) {
      summary.droppedObservationTimes++;
      continue;
    }
    summary.observationTimes++;
    summary.firstObservation ??= t;
    summary.lastObservation = t;
    for (const features of featureRowsOf(histories, t)) {
      const row: PurchaseRow = { ...features, label: labelOf(features, purchases, horizonMs) };
      rows.push(row);
      const entity = summary.byEntity[row.entity];
      entity.rows++;
      if (row.label) {
        entity.positives++;
        summary.positives++;
      }
      if (row.imported_history) summary.rowsWithImportedHistory++;
    }
  }
  summary.rows = rows.length;
  return { rows, summary };
}

/**
 * Parses a duration such as `7d`, `12h`, `30m` or `2w` into milliseconds.
 * @throws RangeError for anything else, or zero
 */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([mhdw])$/.exec(text);
  const unit = m && { m: 60_000, h: 3_600_000, d: dayMs, w: 7 * dayMs }[m[2] as 'm' | 'h' | 'd' | 'w'];
  if (!m || !unit || Number(m[1]) === 0) {
    throw new RangeError(`"${text}" is not a duration such as 7d, 12h, 30m or 2w`);
  }
  return Number(m[1]) * unit;
}
