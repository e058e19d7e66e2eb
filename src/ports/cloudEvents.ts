/**
 * The CloudEvents port: the event as it leaves the service, and the publisher that sends batches of them
 * to a topic (Event Grid on Azure, the local host's topic locally). Attributes, extensions and limits:
 * docs/adr/0005-cloudevents-1-0.md.
 */

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

/**
 * Event Grid limits (Azure Event Grid quotas and limits, learn.microsoft.com/azure/event-grid/quotas-limits):
 * an event is at most 1 MB, a publish request at most 1 MB and 5,000 events. A request is the JSON array of
 * its events, so one event alone costs its own bytes plus the two brackets: an event that fits the event
 * limit can still be refused as a request ({@link maxPublishableEventBytes}).
 */
export const eventGridLimits = {
  maxEventBytes: 1024 * 1024,
  maxRequestBytes: 1024 * 1024,
  maxBatchEvents: 5000,
  /** Target size of a batch we send: under the 1 MB request limit with margin for framing. */
  targetBatchBytes: 1_000_000,
} as const;

/** Bytes of JSON an event may have so that a request carrying it alone (`[` event `]`) fits both limits. */
export const maxPublishableEventBytes = Math.min(
  eventGridLimits.maxEventBytes,
  eventGridLimits.maxRequestBytes - 2,
);

/** Size of a value as Event Grid counts it: the bytes of its JSON in UTF-8. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * The topic refused a batch in a way no retry can fix (HTTP 400 or 413: a malformed or oversized request).
 * Any other error from {@link CloudEventPublisher.publish} is taken as transient.
 */
export class PublishRejectedError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PublishRejectedError';
  }
}

/** Sends one batch of CloudEvents to a topic. */
export interface CloudEventPublisher {
  /**
   * Resolves once the topic accepted the whole batch.
   * @throws PublishRejectedError when the topic refused it for good; any other error when it may succeed later
   */
  publish(batch: CloudEventEnvelope[]): Promise<void>;
}
