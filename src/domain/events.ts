import { z } from 'zod';
import { Id } from './ids';

/**
 * The event catalogue: one zod schema per event type at its current schema version.
 * Older stored versions are upcast on read (see upcasters.ts); stored events are never rewritten.
 * Money fields are canonical decimal strings in the currency's minor unit (see money.ts).
 */
// The same bounds as the API: 16 integer digits, 6 fraction digits at most (money.ts).
const Amount = z.string().regex(/^(0|[1-9]\d{0,15})(\.\d{1,6})?$/);
const Currency = z.string().regex(/^[A-Z]{3}$/);
const Reason = z.string().min(1);
/**
 * Where the customer is, as the source system names the region: the state or province code (Olist: a
 * Brazilian UF such as "SP", the `customer_state` of olist_customers_dataset.csv). 1-16 letters, digits or "-"
 * (an ISO 3166-2 subdivision code such as "BR-SP" fits too).
 */
const Region = z.string().regex(/^[A-Za-z0-9-]{1,16}$/);

export const eventDataSchemas = {
  // `customerState` was added to v2 as an optional field (issue 12, funnels by customer state): every v2 event
  // written before it still validates, and a reader that does not know it ignores it. Only the Olist import
  // records it; the API does not take it.
  OrderCreated: z.object({ customerId: Id, referralCode: Id.optional(), customerState: Region.optional() }),
  OrderCreatedBasedOnAReferral: z.object({ customerId: Id, referralCode: Id }),
  ProductAddedToOrder: z.object({
    productId: Id,
    quantity: z.number().int().positive().max(1_000_000),
    unitPrice: Amount,
    currency: Currency,
    sellerId: Id.optional(),
  }),
  ProductRemovedFromOrder: z.object({ productId: Id }),
  OrderSubmitted: z.object({ total: Amount, currency: Currency.optional(), lineCount: z.number().int() }),
  StockReserved: z.object({
    productId: Id,
    quantity: z.number().int().positive(),
    reservationId: z.string(),
  }),
  StockReservationFailed: z.object({ productId: Id, quantity: z.number().int().positive(), reason: Reason }),
  StockReleased: z.object({
    productId: Id,
    quantity: z.number().int().positive(),
    reservationId: z.string(),
  }),
  OrderAccepted: z.object({ approvedBy: z.string().max(256).optional() }),
  OrderRejected: z.object({ reason: Reason }),
  OrderCancelled: z.object({ reason: Reason }),
  OrderShipped: z.object({}),
  OrderDelivered: z.object({}),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];

/** Current schema version of each event type; an upcaster exists for every older one. */
export const currentSchemaVersion: Record<EventType, number> = {
  OrderCreated: 2,
  OrderCreatedBasedOnAReferral: 1,
  ProductAddedToOrder: 1,
  ProductRemovedFromOrder: 1,
  OrderSubmitted: 1,
  StockReserved: 1,
  StockReservationFailed: 1,
  StockReleased: 1,
  OrderAccepted: 1,
  OrderRejected: 1,
  OrderCancelled: 1,
  OrderShipped: 1,
  OrderDelivered: 1,
};

export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

/** A domain event as the decider produces and evolve consumes it. `occurredAt` is business time (ISO 8601). */
export type OrderEvent = {
  [T in EventType]: { type: T; data: EventData<T>; occurredAt: string };
}[EventType];

export function isEventType(t: string): t is EventType {
  return Object.prototype.hasOwnProperty.call(eventDataSchemas, t);
}

/**
 * Schemas of older stored versions, kept so their JSON Schemas stay published (`dataschema` of an event
 * recorded long ago still resolves). Keyed by `${type}@${schemaVersion}`; a Map, because the type comes from
 * the URL of `GET /api/schemas/events/{eventType}/{schemaVersion}`.
 */
export const historicEventDataSchemas: ReadonlyMap<string, z.ZodType> = new Map([
  ['OrderCreated@1', z.object({ customerId: Id })],
]);

/** The zod schema of one event type at one schema version, or undefined when there is none. */
export function eventDataSchema(type: string, schemaVersion: number): z.ZodType | undefined {
  if (isEventType(type) && currentSchemaVersion[type] === schemaVersion) return eventDataSchemas[type];
  return historicEventDataSchemas.get(`${type}@${schemaVersion}`);
}
