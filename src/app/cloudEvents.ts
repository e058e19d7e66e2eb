import { currentSchemaVersion, EventType } from '../domain/events';
import { CommitDocument, eventsOfCommit } from '../ports/eventStore';
import { CloudEventEnvelope } from '../ports/cloudEvents';
import { toDomainEvent } from './orderService';

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
