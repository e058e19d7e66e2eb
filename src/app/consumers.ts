import { z } from 'zod';
import {
  CustomerNotification,
  EventRef,
  GuardOutcome,
  NotificationStore,
  StockDemandStore,
} from '../store/consumers';

/** The parts of a received CloudEvent the consumers rely on; anything else is refused as malformed. */
export const receivedCloudEvent = z.object({
  id: z.string().min(1),
  type: z.string().regex(/\.[A-Za-z]+\.v\d+$/),
  time: z.string(),
  data: z.record(z.string(), z.unknown()),
  orderversion: z.coerce.number().int().positive(),
  subject: z.string().regex(/^orders\/.+/),
});
export type ReceivedCloudEvent = z.infer<typeof receivedCloudEvent>;

/** `OrderCreated` out of `com.contoso.orders.OrderCreated.v2`. */
export const eventTypeOf = (cloudEventType: string): string =>
  /\.([A-Za-z]+)\.v\d+$/.exec(cloudEventType)?.[1] ?? '';

const refOf = (consumer: string, e: ReceivedCloudEvent): EventRef => ({
  consumer,
  eventId: e.id,
  orderId: e.subject.slice('orders/'.length),
  orderVersion: e.orderversion,
});

export interface ConsumerResult {
  outcome: GuardOutcome | 'ignored';
  note?: string;
}

/**
 * Stock check on `ProductAddedToOrder`: adds the units to the product's demand and reports when demand
 * now exceeds the known available stock.
 */
export async function checkStock(
  event: ReceivedCloudEvent,
  store: StockDemandStore,
): Promise<ConsumerResult> {
  if (eventTypeOf(event.type) !== 'ProductAddedToOrder') return { outcome: 'ignored' };
  const data = z.object({ productId: z.string(), quantity: z.number().int().positive() }).parse(event.data);
  const outcome = await store.addDemand(refOf('stockCheck', event), data.productId, data.quantity);
  const demand = await store.get(data.productId);
  const note = demand?.overDemand
    ? `demand for ${data.productId} is ${demand.demanded}, over the ${demand.available} in stock`
    : undefined;
  return { outcome, note };
}

const messages: Record<string, [CustomerNotification['kind'], (d: Record<string, unknown>) => string]> = {
  OrderAccepted: ['order-accepted', () => 'Your order has been accepted.'],
  OrderRejected: [
    'order-rejected',
    (d) => `We could not accept your order: ${String(d.reason ?? 'no reason given')}.`,
  ],
  OrderCancelled: [
    'order-cancelled',
    (d) => `Your order has been cancelled: ${String(d.reason ?? 'no reason given')}.`,
  ],
};

/** Customer notification on `OrderAccepted`, `OrderRejected`, `OrderCancelled`: one record per event. */
export async function notifyCustomer(
  event: ReceivedCloudEvent,
  store: NotificationStore,
): Promise<ConsumerResult> {
  const entry = messages[eventTypeOf(event.type)];
  if (!entry) return { outcome: 'ignored' };
  const [kind, text] = entry;
  const ref = refOf('customerNotifications', event);
  const outcome = await store.record(ref, {
    eventId: event.id,
    orderId: ref.orderId,
    kind,
    message: text(event.data),
    occurredAt: event.time,
    recordedAt: new Date().toISOString(),
  });
  return { outcome };
}
