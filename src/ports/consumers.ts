/**
 * State of the Event Grid consumers. Every write is guarded the same way, because Event Grid delivers at
 * least once and in no particular order: an event id already processed by this consumer is a duplicate,
 * and an event whose order version is below the highest this consumer has seen for that order is stale.
 * Both are skipped, atomically with the write they guard (docs/adr/0004-change-feed-is-the-outbox.md).
 */
export interface EventRef {
  consumer: string;
  /** CloudEvent `id` (`{orderId}:{version}`). */
  eventId: string;
  orderId: string;
  /** CloudEvent extension `orderversion`. */
  orderVersion: number;
}

export type GuardOutcome = 'applied' | 'duplicate' | 'stale';

/** Demand per product: units added to orders, against the available stock when it is known. */
export interface StockDemand {
  productId: string;
  /** Units in `ProductAddedToOrder` events, summed over all orders. */
  demanded: number;
  /** Units in stock, when a stock level is known for the product. */
  available?: number;
  /** True when demand exceeds the known available stock. */
  overDemand: boolean;
}

/** The demand of a product from its counters; `available` null or undefined means no known stock level. */
export function stockDemandOf(productId: string, demanded: number, available?: number | null): StockDemand {
  const known = available ?? undefined;
  return { productId, demanded, available: known, overDemand: known !== undefined && demanded > known };
}

export interface StockDemandStore {
  addDemand(ref: EventRef, productId: string, quantity: number): Promise<GuardOutcome>;
  /** Sets the available stock of products (from the `STOCK_LEVELS` setting or an import). */
  setAvailable(levels: ReadonlyMap<string, number>): Promise<void>;
  get(productId: string): Promise<StockDemand | undefined>;
}

/** A message to a customer about their order; a Logic App sends it on Azure. */
export interface CustomerNotification {
  eventId: string;
  orderId: string;
  customerId?: string;
  kind: 'order-accepted' | 'order-rejected' | 'order-cancelled';
  message: string;
  occurredAt: string;
  recordedAt: string;
}

export interface NotificationStore {
  record(ref: EventRef, notification: CustomerNotification): Promise<GuardOutcome>;
  listForOrder(orderId: string): Promise<CustomerNotification[]>;
}
