import { currentSchemaVersion, EventType } from '../domain/events';
import { CommitDocument, eventsOfCommit } from '../store/eventStore';
import { toDomainEvent } from './orderService';

/**
 * A CloudEvent 1.0 in its JSON structured form (CloudEvents spec v1.0.2, JSON event format).
 * Extension attributes (lowercase letters and digits only, per the spec's naming rule):
 * - `orderversion`: the order's stream version after this event, so a subscriber can discard stale ones
 *   (Event Grid does not keep order);
 * - `correlationid`: the correlation id of the command that caused it;
 * - `traceparent` / `tracestate`: the W3C trace context (CloudEvents distributed-tracing extension).
 */
export interface CloudEventEnvelope {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  dataschema: string;
  data: unknown;
  orderversion: number;
  correlationid?: string;
  traceparent?: string;
  tracestate?: string;
}

export interface CloudEventOptions {
  /** `source` of every event: the context that produced it, a URI-reference. */
  source: string;
  /** Reverse-DNS prefix of `type` (CloudEvents naming guidance), e.g. `com.contoso.orders`. */
  typePrefix: string;
  /** Absolute base URL where the API serves `/api/schemas/events/{type}/{version}`. */
  schemaBaseUrl: string;
}

/** `type` of an event: `{prefix}.{EventType}.v{schemaVersion}`, e.g. `com.contoso.orders.OrderCreated.v2`. */
export const cloudEventType = (prefix: string, type: string, schemaVersion: number) =>
  `${prefix}.${type}.v${schemaVersion}`;

/** `id` of an event: `{orderId}:{version}`, deterministic, so a re-publication can be recognised. */
export const cloudEventId = (orderId: string, version: number) => `${orderId}:${version}`;

/**
 * Maps the events of one commit to CloudEvents. Events are upcast first, so subscribers only ever see
 * the current schema version of each type; `time` is the business time (`occurredAt`).
 * @throws UnknownEventError for an event this code cannot read
 */
export function toCloudEvents(commit: CommitDocument, options: CloudEventOptions): CloudEventEnvelope[] {
  return eventsOfCommit(commit).map((recorded) => {
    const event = toDomainEvent(recorded);
    const schemaVersion = currentSchemaVersion[event.type as EventType];
    const envelope: CloudEventEnvelope = {
      specversion: '1.0',
      id: cloudEventId(recorded.orderId, recorded.version),
      source: options.source,
      type: cloudEventType(options.typePrefix, event.type, schemaVersion),
      subject: `orders/${recorded.orderId}`,
      time: new Date(recorded.occurredAt).toISOString(),
      datacontenttype: 'application/json',
      dataschema: `${options.schemaBaseUrl.replace(/\/$/, '')}/api/schemas/events/${event.type}/${schemaVersion}`,
      data: event.data,
      orderversion: recorded.version,
    };
    if (recorded.metadata.correlationId) envelope.correlationid = recorded.metadata.correlationId;
    if (recorded.metadata.traceparent) envelope.traceparent = recorded.metadata.traceparent;
    if (recorded.metadata.tracestate) envelope.tracestate = recorded.metadata.tracestate;
    return envelope;
  });
}

/** Size of an event as Event Grid counts it: the bytes of its JSON. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');
