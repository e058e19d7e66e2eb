import { metrics } from '@opentelemetry/api';
import { CommitDocument } from '../store/eventStore';
import { CloudEventEnvelope, CloudEventOptions, jsonBytes, toCloudEvents } from './cloudEvents';

/**
 * Event Grid limits (Azure Event Grid quotas and limits, learn.microsoft.com/azure/event-grid/quotas-limits):
 * an event is at most 1 MB, a publish request at most 1 MB and 5,000 events.
 * Batches are cut below the request limit with room for the request's own framing.
 */
export const eventGridLimits = {
  maxEventBytes: 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxBatchEvents: 5000,
  /** Target size of a batch we send: under the 1 MB request limit with margin for framing. */
  targetBatchBytes: 1_000_000,
} as const;

/** Sends one batch of CloudEvents to a topic; rejects when the topic did not accept it. */
export interface CloudEventPublisher {
  publish(batch: CloudEventEnvelope[]): Promise<void>;
}

/** Why an event was set aside, and the event itself, as stored in a dead-letter store. */
export interface DeadLetterRecord {
  reason: string;
  deadLetteredAt: string;
  sizeBytes?: number;
  attempts?: number;
  lastStatus?: number;
  event: unknown;
}

/** Keeps events that could not be delivered, per channel (the publisher, a subscription). */
export interface DeadLetterStore {
  put(channel: string, id: string, record: DeadLetterRecord): Promise<void>;
  list(channel: string): Promise<DeadLetterRecord[]>;
}

export interface PublishLog {
  warn(message: string): void;
}

const deadLettered = metrics.getMeter('order-service').createCounter('eventgrid.publisher.deadlettered', {
  description: 'Events the relay could not publish and set aside (over the Event Grid event size limit)',
});

/** Splits events into batches under the byte and count limits, keeping their order. */
export function toBatches(events: CloudEventEnvelope[], limits = eventGridLimits): CloudEventEnvelope[][] {
  const batches: CloudEventEnvelope[][] = [];
  let current: CloudEventEnvelope[] = [];
  let bytes = 2;
  for (const event of events) {
    const size = jsonBytes(event) + 1;
    if (
      current.length &&
      (bytes + size > limits.targetBatchBytes || current.length >= limits.maxBatchEvents)
    ) {
      batches.push(current);
      current = [];
      bytes = 2;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}

/**
 * The relay of the outbox: maps change-feed commit documents (anything else is ignored) to CloudEvents
 * and publishes them in batches, in feed order. An event over Event Grid's 1 MB limit can never be
 * published: it goes to the dead-letter store with its reason, a log line and a metric, and the rest go on.
 * Resolves only after every batch was accepted, so the caller's checkpoint moves only then.
 * @throws whatever the publisher throws; nothing is checkpointed and the batch is retried whole
 *   (subscribers deduplicate by CloudEvent id)
 */
export async function publishCommits(
  documents: { kind?: string }[],
  options: CloudEventOptions,
  publisher: CloudEventPublisher,
  deadLetters: DeadLetterStore,
  log: PublishLog,
): Promise<{ published: number; deadLettered: number }> {
  const events: CloudEventEnvelope[] = [];
  let setAside = 0;
  for (const doc of documents) {
    if (doc.kind !== 'commit') continue;
    for (const event of toCloudEvents(doc as CommitDocument, options)) {
      const size = jsonBytes(event);
      if (size <= eventGridLimits.maxEventBytes) {
        events.push(event);
        continue;
      }
      const reason = `event is ${size} bytes, over Event Grid's ${eventGridLimits.maxEventBytes}-byte event limit`;
      await deadLetters.put('publisher', event.id, {
        reason,
        deadLetteredAt: new Date().toISOString(),
        sizeBytes: size,
        event,
      });
      deadLettered.add(1, { type: event.type });
      log.warn(`dead-lettered CloudEvent ${event.id} (${event.type}): ${reason}`);
      setAside++;
    }
  }
  for (const batch of toBatches(events)) await publisher.publish(batch);
  return { published: events.length, deadLettered: setAside };
}
