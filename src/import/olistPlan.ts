import { historyAnomalyLabels, historyCommands, OrderHistory, timeOrderAnomalies } from '../app/history';
import { OrderCommand } from '../domain/decider';
import { Id } from '../domain/ids';
import { canonicalAmount } from '../domain/money';
import { olistTimeToUtc } from './localTime';

/** One row of `olist_orders_dataset.csv` (the columns the import uses). */
export interface OlistOrderRow {
  order_id: string;
  customer_id: string;
  order_status: string;
  order_purchase_timestamp: string;
  order_approved_at: string;
  order_delivered_carrier_date: string;
  order_delivered_customer_date: string;
}

/**
 * One row of `olist_customers_dataset.csv` (the columns the import uses). `customer_id` is the key the orders
 * file uses, one per order; `customer_unique_id` is the person, shared by all their orders.
 */
export interface OlistCustomerRow {
  customer_id: string;
  customer_unique_id: string;
  customer_state: string;
}

export const customerColumns: (keyof OlistCustomerRow)[] = [
  'customer_id',
  'customer_unique_id',
  'customer_state',
];

/** What the customers file says about the customer of one order. */
export interface OlistCustomer {
  /** `customer_unique_id`: the order's customerId. Absent when the row has none (an empty field). */
  uniqueId?: string;
  /** `customer_state` (a Brazilian UF such as "SP"); absent when it is not a region code. */
  state?: string;
}

/** One row of `olist_order_items_dataset.csv`: one unit of one product. */
export interface OlistItemRow {
  order_id: string;
  order_item_id: string;
  product_id: string;
  seller_id: string;
  price: string;
}

export const orderColumns: (keyof OlistOrderRow)[] = [
  'order_id',
  'customer_id',
  'order_status',
  'order_purchase_timestamp',
  'order_approved_at',
  'order_delivered_carrier_date',
  'order_delivered_customer_date',
];
export const itemColumns: (keyof OlistItemRow)[] = [
  'order_id',
  'order_item_id',
  'product_id',
  'seller_id',
  'price',
];

/** What the import reports, each kind with a count; the labels are the summary's wording. */
export const anomalyLabels = {
  ...historyAnomalyLabels,
  missingTimestamp: 'status needs a time the row lacks (latest earlier time used)',
  ignoredTimestamp: 'times the status does not use (e.g. carrier time of an unavailable order)',
  unknownStatus: 'unknown status (created and submitted only)',
  invalidRow: 'order rows that could not be read (order not imported)',
  unknownCustomer:
    'orders whose customer_id has no customer_unique_id in the customers file (customer_id kept as the customer)',
  itemsWithoutOrder: 'item rows whose order is not in the orders file (not imported)',
  streamDiffers: 'orders already in the store with other events (left as they are)',
  refusedCommands: 'commands the decider refused',
} as const;

export type AnomalyKind = keyof typeof anomalyLabels;

export const noAnomalies = (): Record<AnomalyKind, number> =>
  Object.fromEntries(Object.keys(anomalyLabels).map((k) => [k, 0])) as Record<AnomalyKind, number>;

export interface PlannedOrder {
  orderId: string;
  /** The order's commands in order, each with its business time; all marked `history: true`. */
  commands: OrderCommand[];
  anomalies: AnomalyKind[];
}

/** The order row cannot be turned into commands (bad timestamp or price); the order is not imported. */
export class OlistRowError extends Error {}

const cancelReason = 'canceled in source';
const unavailableReason = 'unavailable';

/**
 * Maps one Olist order and its item rows to the commands that replay it, in the order they happened:
 *
 * - CreateOrder for the customer `customer`, the row's customer in olist_customers_dataset.csv: customerId =
 *   its `customer_unique_id` (the person, so a repeat customer's orders share it; the row's `customer_id` is
 *   one per order), customerState = its `customer_state`. Without a customer (undefined: the file has no row
 *   for that `customer_id`, or the row's `customer_unique_id` is empty) the customerId is the row's
 *   `customer_id`, a customer of that order alone, and the plan reports `unknownCustomer`;
 * - one AddProduct per product (item rows grouped by product: quantity = number of rows,
 *   unit price = the row price in canonical BRL), SubmitOrder — all at the purchase time;
 * - by status: delivered → AcceptOrder (approval time), ShipOrder (carrier time), DeliverOrder (customer
 *   time); shipped → accept, ship; invoiced, processing, approved → accept; canceled → accept if approved,
 *   ship if it reached the carrier, CancelOrder at the latest time the row knows; unavailable →
 *   RejectOrder at the approval time (or the purchase time).
 *
 * Every command carries `history: true`: the source records facts a live rule would refuse (an empty
 * order submitted, shipping without acceptance, cancelling after shipping). A delivered or shipped order
 * without an approval time is shipped from `submitted`; no acceptance is invented.
 * Times are Brazil local time in the source and ISO 8601 UTC in the events (see localTime.ts).
 * @throws OlistRowError when a timestamp or price cannot be read, or an id (order, customer, product,
 *   seller) is not one the event catalogue accepts
 */
export function planOrder(
  row: OlistOrderRow,
  items: OlistItemRow[],
  customer: OlistCustomer | undefined,
): PlannedOrder {
  const orderId = row.order_id;
  const anomalies: AnomalyKind[] = [];
  const time = (field: keyof OlistOrderRow): string | undefined => {
    const text = row[field]?.trim();
    if (!text) return undefined;
    try {
      return olistTimeToUtc(text);
    } catch (err) {
      throw new OlistRowError(`order ${orderId}: ${field}: ${(err as Error).message}`);
    }
  };
  if (!orderId || !row.customer_id) throw new OlistRowError(`order row without order_id or customer_id`);
  // Source ids become stream keys and event data: each must be an id the event catalogue accepts, or the
  // order is not imported (the store would refuse its events; the API could never address it).
  requireId(orderId, 'order_id', orderId);
  const customerId = customer?.uniqueId ?? row.customer_id;
  requireId(customerId, customer?.uniqueId !== undefined ? 'customer_unique_id' : 'customer_id', orderId);
  if (customer?.uniqueId === undefined) anomalies.push('unknownCustomer');
  for (const item of items) {
    requireId(item.product_id, `item ${item.order_item_id}: product_id`, orderId);
    requireId(item.seller_id, `item ${item.order_item_id}: seller_id`, orderId);
  }
  const purchase = time('order_purchase_timestamp');
  if (!purchase) throw new OlistRowError(`order ${orderId}: no order_purchase_timestamp`);
  const approved = time('order_approved_at');
  const carrier = time('order_delivered_carrier_date');
  const delivered = time('order_delivered_customer_date');

  anomalies.push(
    ...timeOrderAnomalies({ created: purchase, accepted: approved, shipped: carrier, delivered }),
  );
  const history: OrderHistory = {
    orderId,
    customerId,
    ...(customer?.state ? { customerState: customer.state } : {}),
    createdAt: purchase,
    lines: groupLines(orderId, items),
    submittedAt: purchase,
  };

  /** The latest of the known times up to now, for a step whose own time is missing. */
  const latest = (...times: (string | undefined)[]): string =>
    times.reduce<string>((max, t) => (t !== undefined && t > max ? t : max), purchase);
  const orElse = (t: string | undefined, ...earlier: (string | undefined)[]): string => {
    if (t) return t;
    anomalies.push('missingTimestamp');
    return latest(...earlier);
  };
  const ignore = (...times: (string | undefined)[]) => {
    for (const t of times) if (t) anomalies.push('ignoredTimestamp');
  };

  switch (row.order_status) {
    case 'delivered':
    case 'shipped':
      history.acceptedAt = approved;
      history.shippedAt = orElse(carrier, approved);
      if (row.order_status === 'delivered') history.deliveredAt = orElse(delivered, approved, carrier);
      else ignore(delivered);
      break;
    case 'invoiced':
    case 'processing':
    case 'approved':
      history.acceptedAt = orElse(approved);
      ignore(carrier, delivered);
      break;
    case 'canceled':
      history.acceptedAt = approved;
      history.shippedAt = carrier;
      history.deliveredAt = delivered;
      history.cancelled = { at: latest(approved, carrier, delivered), reason: cancelReason };
      break;
    case 'unavailable':
      history.rejected = { at: approved ?? purchase, reason: unavailableReason };
      ignore(carrier, delivered);
      break;
    default:
      anomalies.push('unknownStatus');
      ignore(approved, carrier, delivered);
  }
  const { commands, anomalies: lifecycle } = historyCommands(history);
  return { orderId, commands, anomalies: [...anomalies, ...lifecycle] };
}

/** @throws OlistRowError when `value` is not an id as the event catalogue defines it (src/domain/ids.ts) */
function requireId(value: string, field: string, orderId: string): void {
  const r = Id.safeParse(value);
  if (!r.success) {
    throw new OlistRowError(`order ${JSON.stringify(orderId)}: ${field}: ${r.error.issues[0].message}`);
  }
}

/**
 * One line per product: the item rows of a product (one unit each) become its quantity. Rows of one product
 * at different prices or sellers stay separate lines; the decider refuses the second, and the import
 * reports that refusal rather than averaging prices.
 */
function groupLines(orderId: string, items: OlistItemRow[]) {
  const sorted = [...items].sort((a, b) => Number(a.order_item_id) - Number(b.order_item_id));
  const lines = new Map<
    string,
    { productId: string; quantity: number; unitPrice: string; currency: 'BRL'; sellerId: string }
  >();
  for (const item of sorted) {
    let unitPrice: string;
    try {
      unitPrice = canonicalAmount(item.price.trim(), 'BRL');
    } catch (err) {
      throw new OlistRowError(
        `order ${orderId}: item ${item.order_item_id}: price: ${(err as Error).message}`,
      );
    }
    const key = `${item.product_id}\u0000${unitPrice}\u0000${item.seller_id}`;
    const line = lines.get(key);
    if (line) line.quantity++;
    else
      lines.set(key, {
        productId: item.product_id,
        quantity: 1,
        unitPrice,
        currency: 'BRL',
        sellerId: item.seller_id,
      });
  }
  return [...lines.values()];
}
