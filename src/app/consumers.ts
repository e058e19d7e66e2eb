import { Attributes, context, SpanKind } from '@opentelemetry/api';
import { z } from 'zod';
import { currentSchemaVersion, eventDataSchemas, EventType } from '../domain/events';
import {
  CustomerNotification,
  EventRef,
  GuardOutcome,
  NotificationStore,
  StockDemandStore,
} from '../ports/consumers';
import { instrument } from '../shared/instruments';
import { attributeNames, eventGridSystem, metricDefinitions } from '../shared/telemetryNames';
import { ambientLink, contextOf, errorTypeOf, inSpan, spanContextOf } from './tracing';

/**
 * A received CloudEvent checked against the producer's own rules (see cloudEvents.ts): `id` is
 * `{orderId}:{orderversion}`, `subject` is `orders/{orderId}`, `orderversion` a positive integer, and
 * `data` valid for the event type at the schema version the `type` names, which must be the current one.
 */
const envelope = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}:[1-9]\d{0,14}$/),
  type: z.string().regex(/\.[A-Za-z]+\.v\d+$/),
  time: z.string(),
  data: z.record(z.string(), z.unknown()),
  orderversion: z.number().int().positive(),
  subject: z.string().regex(/^orders\/[A-Za-z0-9_.:-]{1,128}$/),
});

export interface ReceivedCloudEvent extends z.infer<typeof envelope> {
  eventType: EventType;
}

/** `OrderCreated` out of `com.contoso.orders.OrderCreated.v2`. */
export const eventTypeOf = (cloudEventType: string): string =>
  /\.([A-Za-z]+)\.v\d+$/.exec(cloudEventType)?.[1] ?? '';

/** What a consumer makes of a delivery before acting on it. */
export type Reception =
  { kind: 'ignored' } | { kind: 'malformed'; reason: string } | { kind: 'event'; event: ReceivedCloudEvent };

/**
 * Reads a delivery for a consumer that handles `handled` types: other types are ignored (the Azure
 * subscription filter would not even deliver them); an event of a handled type that breaks the
 * producer's rules is malformed: it can never be processed, so the consumer logs it and does not retry.
 */
export function receive(raw: unknown, handled: EventType[]): Reception {
  const type = (raw as { type?: unknown } | null)?.type;
  const eventType = typeof type === 'string' ? eventTypeOf(type) : '';
  if (!handled.includes(eventType as EventType)) return { kind: 'ignored' };
  const parsed = envelope.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'malformed', reason: `${issue.path.join('.')}: ${issue.message}` };
  }
  const e = parsed.data;
  const orderId = e.subject.slice('orders/'.length);
  if (e.id !== `${orderId}:${e.orderversion}`) {
    return { kind: 'malformed', reason: 'id is not {orderId}:{orderversion} of the subject' };
  }
  const version = Number(/\.v(\d+)$/.exec(e.type)![1]);
  if (version !== currentSchemaVersion[eventType as EventType]) {
    return { kind: 'malformed', reason: `${eventType} v${version} is not the published schema version` };
  }
  const data = eventDataSchemas[eventType as EventType].safeParse(e.data);
  if (!data.success) {
    const issue = data.error.issues[0];
    return { kind: 'malformed', reason: `data.${issue.path.join('.')}: ${issue.message}` };
  }
  return {
    kind: 'event',
    event: { ...e, data: data.data as Record<string, unknown>, eventType: eventType as EventType },
  };
}

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
  if (event.eventType !== 'ProductAddedToOrder') return { outcome: 'ignored' };
  const data = event.data as { productId: string; quantity: number };
  const outcome = await store.addDemand(refOf('stockCheck', event), data.productId, data.quantity);
  const demand = await store.get(data.productId);
  const note = demand?.overDemand
    ? `demand for ${data.productId} is ${demand.demanded}, over the ${demand.available} in stock`
    : undefined;
  return { outcome, note };
}

/** By event type, which arrives from outside in the CloudEvent `type`: a Map, so no name reaches a prototype. */
const messages = new Map<EventType, [CustomerNotification['kind'], (d: Record<string, unknown>) => string]>([
  ['OrderAccepted', ['order-accepted', () => 'Your order has been accepted.']],
  [
    'OrderRejected',
    ['order-rejected', (d) => `We could not accept your order: ${String(d.reason ?? 'no reason given')}.`],
  ],
  [
    'OrderCancelled',
    ['order-cancelled', (d) => `Your order has been cancelled: ${String(d.reason ?? 'no reason given')}.`],
  ],
]);

/** Customer notification on `OrderAccepted`, `OrderRejected`, `OrderCancelled`: one record per event. */
export async function notifyCustomer(
  event: ReceivedCloudEvent,
  store: NotificationStore,
): Promise<ConsumerResult> {
  const entry = messages.get(event.eventType);
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

/**
 * One Event Grid consumer processing one delivery, observed (docs/observability.md): a `process <consumer>`
 * span (kind consumer) with the OpenTelemetry CloudEvents attributes (`cloudevents.event_id`,
 * `cloudevents.event_type`, ...), linked to the trace context the event carries (its `traceparent`, the
 * distributed-tracing extension: the append that created it) and a child of it, so the consumer shows in the
 * command's trace; the invocation's own context (the Functions host's) is linked too. `messaging.process.duration`
 * counts and times it by consumer, event type and outcome. `reception` is what {@link receive} made of the
 * delivery; an ignored event (a type this consumer does not handle, which the Azure subscription filter would
 * not even deliver) is not observed. `handle.work` returns the outcome (`applied`, `duplicate`, `stale`); a
 * malformed delivery goes to `handle.malformed` and is dropped (never retried).
 */
export async function consume(
  consumer: string,
  raw: unknown,
  reception: Exclude<Reception, { kind: 'ignored' }>,
  handle: {
    work: (event: ReceivedCloudEvent) => Promise<ConsumerResult>;
    /** Told why a malformed delivery is dropped (logged in the span, so with its trace and span id). */
    malformed: (reason: string) => void;
  },
): Promise<ConsumerResult | undefined> {
  const attrs = (raw ?? {}) as Record<string, unknown>;
  const sc = spanContextOf(attrs.traceparent, attrs.tracestate);
  const parent = sc ? contextOf(sc) : context.active();
  const metricAttributes: Attributes = {
    [attributeNames.messagingSystem]: eventGridSystem,
    [attributeNames.messagingOperationName]: 'process',
    [attributeNames.messagingSubscription]: consumer,
    // The checked type only: a malformed delivery's `type` is whatever its sender wrote.
    [attributeNames.cloudEventType]: reception.kind === 'event' ? reception.event.type : '(malformed)',
  };
  const started = performance.now();
  let outcome = 'malformed';
  let errorType: string | undefined;
  try {
    return await inSpan(
      `process ${consumer}`,
      {
        kind: SpanKind.CONSUMER,
        parent,
        links: [...(sc ? [{ context: sc }] : []), ...ambientLink(parent)],
        attributes: {
          ...metricAttributes,
          [attributeNames.messagingOperationType]: 'process',
          ...cloudEventAttributes(attrs),
        },
      },
      async (span) => {
        if (reception.kind === 'malformed') {
          span.setAttribute(attributeNames.consumerOutcome, outcome);
          handle.malformed(reception.reason);
          return undefined;
        }
        const orderId = reception.event.subject.slice('orders/'.length);
        span.setAttribute(attributeNames.orderId, orderId);
        const result = await handle.work(reception.event);
        outcome = result.outcome;
        span.setAttribute(attributeNames.consumerOutcome, outcome);
        return result;
      },
    );
  } catch (err) {
    outcome = 'failed';
    errorType = errorTypeOf(err);
    throw err;
  } finally {
    instrument(metricDefinitions.consumerDuration).record((performance.now() - started) / 1000, {
      ...metricAttributes,
      [attributeNames.consumerOutcome]: outcome,
      ...(errorType ? { [attributeNames.errorType]: errorType } : {}),
    });
  }
}

/** The CloudEvents span attributes of the OpenTelemetry conventions, from a delivery's attributes as sent. */
function cloudEventAttributes(attrs: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  const set = (key: string, value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && value.length <= 256) out[key] = value;
  };
  set(attributeNames.cloudEventId, attrs.id);
  set(attributeNames.cloudEventSource, attrs.source);
  set(attributeNames.cloudEventSpecVersion, attrs.specversion);
  set(attributeNames.cloudEventSubject, attrs.subject);
  set(attributeNames.cloudEventType, attrs.type);
  return out;
}
