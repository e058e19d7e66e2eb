import { SpanKind } from '@opentelemetry/api';
import { CommitDocument } from '../ports/eventStore';
import {
  CloudEventEnvelope,
  CloudEventPublisher,
  eventGridLimits,
  jsonBytes,
  maxPublishableEventBytes,
  PublishRejectedError,
} from '../ports/cloudEvents';
import { DeadLetterStore } from '../ports/deadLetters';
import { cloudEventId, CloudEventOptions, toCloudEvents } from './cloudEvents';
import { instrument } from '../shared/instruments';
import { attributeNames, eventGridSystem, metricDefinitions } from '../shared/telemetryNames';
import { continuation, errorTypeOf, inSpan, spanContextOf } from './tracing';

export interface PublishLog {
  warn(message: string): void;
  error(message: string): void;
}

/**
 * Which run of the same batch this is, as the Functions host counts it (`InvocationContext.retryContext` of
 * @azure/functions 4.x, learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages):
 * `retryCount` is 0 on the first run and `maxRetryCount` on the last; `maxRetryCount` -1 retries forever.
 */
export interface DeliveryAttempt {
  retryCount: number;
  maxRetryCount: number;
}

/** Channel of the events the topic refused for good (never publishable as they are). */
export const deadLetterChannel = 'publisher';
/** Channel of the commits set aside after the last attempt failed for a transient reason (replayable). */
export const parkedChannel = 'parked';

/** Id of a parked commit's letter: `{orderId}:{i}`, `i` the stream version before the commit. */
export const parkedLetterId = (commit: Pick<CommitDocument, 'orderId' | 'i'>) =>
  `${commit.orderId}:${commit.i}`;

const sendAttributes = {
  [attributeNames.messagingSystem]: eventGridSystem,
  [attributeNames.messagingOperationName]: 'send',
};

/**
 * Sends one batch in a `send eventgrid` span (kind producer, the conventions' `send` of a batch: event count,
 * request bytes, a link to each event's creation context), counting the events sent
 * (`messaging.client.sent.messages`, with `error.type` when the request failed) and the request's duration.
 */
function send(publisher: CloudEventPublisher, batch: CloudEventEnvelope[]): Promise<void> {
  return inSpan(
    'send eventgrid',
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        ...sendAttributes,
        [attributeNames.messagingOperationType]: 'send',
        [attributeNames.messagingBatchCount]: batch.length,
      },
    },
    async (span) => {
      // Only for a recorded span: with telemetry off, nothing is serialized twice.
      if (span.isRecording()) {
        span.addLinks(
          continuation(batch.map((e) => ({ sc: spanContextOf(e.traceparent, e.tracestate) }))).links,
        );
        // The request body is the JSON array of the events: their bytes, the brackets and the commas.
        span.setAttribute(
          attributeNames.httpRequestBodySize,
          batch.reduce((n, e) => n + jsonBytes(e), 1 + batch.length),
        );
      }
      const started = performance.now();
      let errorType: string | undefined;
      try {
        await publisher.publish(batch);
      } catch (err) {
        errorType = errorTypeOf(err);
        throw err;
      } finally {
        const attributes = errorType
          ? { ...sendAttributes, [attributeNames.errorType]: errorType }
          : sendAttributes;
        instrument(metricDefinitions.eventsSent).add(batch.length, attributes);
        instrument(metricDefinitions.publishDuration).record(
          (performance.now() - started) / 1000,
          attributes,
        );
      }
    },
  );
}

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

/** True when no run of this batch follows: the last of a bounded policy, or the only one without a policy. */
export const isLastAttempt = (attempt: DeliveryAttempt | undefined): boolean =>
  !attempt || (attempt.maxRetryCount >= 0 && attempt.retryCount >= attempt.maxRetryCount);

export interface PublishResult {
  /** Events the topic accepted in this run. */
  published: number;
  /** Events set aside in channel `publisher`: too large, or refused alone with 400/413. */
  deadLettered: number;
  /** Commits set aside in channel `parked` (only on the last attempt). */
  parked: number;
}

/**
 * The relay of the outbox: maps change-feed commit documents (anything else is ignored) to CloudEvents
 * and publishes them in batches, in feed order (Event Grid limits: learn.microsoft.com/azure/event-grid/quotas-limits).
 *
 * - An event whose JSON is over {@link maxPublishableEventBytes} can never be published (the request carrying it
 *   alone would be over 1 MB): it is dead-lettered (channel `publisher`) without asking the topic.
 * - A batch the topic refuses for good ({@link PublishRejectedError}: 400, 413) is bisected, first half then
 *   second half, down to single events, so only the events the topic refuses alone are dead-lettered (with the
 *   reason, the status and the event) and every other event is still published, in order.
 * - Any other failure is transient: before the last attempt it is thrown, so the trigger runs the batch again
 *   after its backoff; on the last attempt ({@link isLastAttempt}) the commits not yet fully published are
 *   parked instead (channel `parked`, one letter per commit with id {@link parkedLetterId}, the reason and the
 *   commit document), logged as an error and counted, and the function resolves, so the lease moves on.
 *
 * The change feed is the outbox: docs/adr/0004-change-feed-is-the-outbox.md.
 * Every dead letter is logged and counted (`eventgrid.publisher.deadlettered`, `eventgrid.publisher.parked`).
 * Running the same batch again republishes events with the same ids (subscribers deduplicate) and rewrites the
 * same letters. Resolves only once every event was accepted, dead-lettered or parked.
 * @throws the publisher's transient error before the last attempt (nothing is checkpointed)
 * @throws the dead-letter store's error when a letter cannot be written (the batch runs again; on the last
 *   attempt the trigger then moves past it: an error log line names the commits left unpublished)
 */
export async function publishCommits(
  documents: { kind?: string }[],
  options: CloudEventOptions,
  publisher: CloudEventPublisher,
  deadLetters: DeadLetterStore,
  log: PublishLog,
  attempt?: DeliveryAttempt,
): Promise<PublishResult> {
  const commits = documents.filter((d): d is CommitDocument => d.kind === 'commit');
  const result: PublishResult = { published: 0, deadLettered: 0, parked: 0 };
  /** Ids of the events accepted or dead-lettered in this run. */
  const done = new Set<string>();

  const deadLetter = async (
    event: CloudEventEnvelope,
    reason: string,
    status: number | undefined,
  ): Promise<void> => {
    const size = jsonBytes(event);
    await deadLetters.put(deadLetterChannel, event.id, {
      reason,
      deadLetteredAt: new Date().toISOString(),
      sizeBytes: size,
      ...(status !== undefined ? { lastStatus: status } : {}),
      event,
    });
    instrument(metricDefinitions.publisherDeadLettered).add(1, {
      [attributeNames.cloudEventType]: event.type,
      ...(status !== undefined ? { [attributeNames.httpStatus]: status } : {}),
    });
    log.warn(`dead-lettered CloudEvent ${event.id} (${event.type}): ${reason}`);
    done.add(event.id);
    result.deadLettered++;
  };

  /** Publishes a batch; when the topic refuses it for good, its halves in turn, down to single events. */
  const publishOrSplit = async (batch: CloudEventEnvelope[]): Promise<void> => {
    try {
      await send(publisher, batch);
    } catch (err) {
      if (!(err instanceof PublishRejectedError)) throw err;
      if (batch.length === 1) {
        await deadLetter(batch[0], `Event Grid refused the event for good: ${err.message}`, err.status);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await publishOrSplit(batch.slice(0, half));
      await publishOrSplit(batch.slice(half));
      return;
    }
    for (const e of batch) done.add(e.id);
    result.published += batch.length;
  };

  try {
    const events: CloudEventEnvelope[] = [];
    for (const commit of commits) {
      for (const event of toCloudEvents(commit, options)) {
        const size = jsonBytes(event);
        if (size <= maxPublishableEventBytes) {
          events.push(event);
        } else if (size > eventGridLimits.maxEventBytes) {
          await deadLetter(
            event,
            `event is ${size} bytes, over Event Grid's ${eventGridLimits.maxEventBytes}-byte event limit`,
            undefined,
          );
        } else {
          await deadLetter(
            event,
            `event is ${size} bytes: with the request's brackets over Event Grid's ${eventGridLimits.maxRequestBytes}-byte request limit`,
            undefined,
          );
        }
      }
    }
    for (const batch of toBatches(events)) await publishOrSplit(batch);
    const now = Date.now();
    for (const commit of commits) {
      const recorded = Date.parse(commit.recordedAt);
      if (Number.isFinite(recorded))
        instrument(metricDefinitions.changeFeedLag).record(Math.max(0, now - recorded) / 1000);
    }
    return result;
  } catch (err) {
    if (!isLastAttempt(attempt)) throw err;
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const runs = attempt ? attempt.retryCount + 1 : 1;
    // Publishing goes in feed order, so the commits left are those with an event neither accepted nor
    // dead-lettered in this run (an event the mapping could not read counts as not done).
    const left = commits.filter((c) => c.e.some((_, k) => !done.has(cloudEventId(c.orderId, c.i + k + 1))));
    try {
      for (const commit of left) {
        await deadLetters.put(parkedChannel, parkedLetterId(commit), {
          reason: `not published after ${runs} attempt(s): ${reason}`,
          deadLetteredAt: new Date().toISOString(),
          attempts: runs,
          event: commit,
        });
      }
    } catch (parkErr) {
      log.error(
        `could not park ${left.length} commit(s) after ${runs} failed attempt(s) (${reason}): ` +
          `${left.map(parkedLetterId).join(', ')} are NOT published and the trigger moves past them; ` +
          `they are still in the event store. Parking failed with: ${String(parkErr)}`,
      );
      throw parkErr;
    }
    instrument(metricDefinitions.publisherParked).add(left.length);
    result.parked = left.length;
    log.error(
      `parked ${left.length} commit(s) after ${runs} failed attempt(s) (${reason}): ` +
        `${left.map(parkedLetterId).join(', ')}; the lease moves on. Replay them with npm run replay-parked.`,
    );
    return result;
  }
}

export interface ReplayResult {
  /** Commits whose events the topic accepted (or refused for good: dead-lettered); their letters are deleted. */
  replayed: number;
  /** Events accepted by the topic. */
  published: number;
  /** Events the topic refused for good during the replay, now in channel `publisher`. */
  deadLettered: number;
  /** Letters left parked: the commit failed, or a letter is not a commit document. */
  failed: { id: string; reason: string }[];
  /** Letters left parked without an attempt: a commit of the same order before them failed, or the run stopped. */
  notAttempted: number;
}

/** A replay run stops after this many failures in a row: the topic is most likely still down. */
export const replayStopAfterFailures = 5;

const isCommitDocument = (v: unknown): v is CommitDocument => {
  const c = v as Partial<CommitDocument> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    c.kind === 'commit' &&
    typeof c.orderId === 'string' &&
    Number.isInteger(c.i) &&
    Array.isArray(c.e)
  );
};

/**
 * Publishes the parked commits again (channel `parked`), per order in version order, with the same mapping and
 * rules as the relay ({@link publishCommits}: an event the topic refuses for good is dead-lettered, the others
 * are published). A letter is deleted only after every event of its commit was accepted or dead-lettered.
 * Events keep their deterministic ids (`{orderId}:{version}`), so subscribers that saw one before deduplicate it.
 * After a commit fails, the later commits of the same order stay parked (publishing them first would make the
 * earlier one stale for subscribers that guard versions), and after {@link replayStopAfterFailures} failures in
 * a row the run stops. Never throws for a failed commit: the result lists it.
 * @throws the dead-letter store's error when the parked letters cannot be listed
 */
export async function replayParked(
  deadLetters: DeadLetterStore,
  options: CloudEventOptions,
  publisher: CloudEventPublisher,
  log: PublishLog,
): Promise<ReplayResult> {
  const letters = await deadLetters.list(parkedChannel);
  const result: ReplayResult = { replayed: 0, published: 0, deadLettered: 0, failed: [], notAttempted: 0 };
  const commits: CommitDocument[] = [];
  for (const letter of letters) {
    if (isCommitDocument(letter.event)) commits.push(letter.event);
    else
      result.failed.push({ id: '(unreadable letter)', reason: 'the letter does not hold a commit document' });
  }
  commits.sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : a.i - b.i));
  const blockedOrders = new Set<string>();
  let failuresInARow = 0;
  for (const commit of commits) {
    const id = parkedLetterId(commit);
    if (blockedOrders.has(commit.orderId) || failuresInARow >= replayStopAfterFailures) {
      result.notAttempted++;
      continue;
    }
    try {
      // Never the last attempt: a failure leaves the letter as it is instead of parking it again.
      const r = await publishCommits([commit], options, publisher, deadLetters, log, {
        retryCount: 0,
        maxRetryCount: -1,
      });
      await deadLetters.delete(parkedChannel, id);
      result.replayed++;
      result.published += r.published;
      result.deadLettered += r.deadLettered;
      failuresInARow = 0;
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      result.failed.push({ id, reason });
      blockedOrders.add(commit.orderId);
      failuresInARow++;
      log.error(`replay of parked commit ${id} failed: ${reason}`);
    }
  }
  return result;
}
