import { decide, DomainError, fold, OrderCommand } from '../domain/decider';
import { currentSchemaVersion, eventDataSchemas, OrderEvent } from '../domain/events';
import { OrderState } from '../domain/state';
import { upcast } from '../domain/upcasters';
import { jsonBytes, maxPublishableEventBytes } from '../ports/cloudEvents';
import {
  commitId,
  EventMetadata,
  EventStore,
  ReadStreamOptions,
  RecordedEvent,
  StoredEventRecord,
  WrongExpectedVersionError,
} from '../ports/eventStore';
// A cycle (cloudEvents.ts reads events with toDomainEvent below): both sides use the other only inside
// functions, at call time, never while the modules load.
import { CloudEventOptions, toCloudEvents } from './cloudEvents';

/** A command as callers send it: business time defaults to the service clock. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type CommandInput = DistributiveOmit<OrderCommand, 'occurredAt'> & { occurredAt?: string };

export interface LoadedOrder {
  state: OrderState;
  version: number;
  events: RecordedEvent[];
}

export interface HandleOptions {
  /** The version the caller last saw (from `If-Match`); a mismatch throws WrongExpectedVersionError. */
  expectedVersion?: number;
  metadata?: EventMetadata;
}

export interface HandleResult extends LoadedOrder {
  /** Events this command appended; empty when it changed nothing. */
  appended: RecordedEvent[];
}

const maxConflictRetries = 25;

/**
 * Bytes reserved for the CloudEvent attributes that come from the settings (`source`, the `type` prefix, the
 * `dataschema` base URL) when the service was not given them: the rule then counts the CloudEvent with those
 * three empty plus this reserve. With the options it is exact.
 */
export const unknownAttributesReserveBytes = 1024;

/**
 * The command's event would be too large to publish; nothing was written. API: 413. `bytes` is the size of
 * the event's CloudEvent as the relay publishes it (JSON, UTF-8); `limit` is {@link maxPublishableEventBytes}.
 */
export class EventTooLargeError extends Error {
  readonly limit = maxPublishableEventBytes;
  constructor(
    readonly eventType: string,
    readonly bytes: number,
  ) {
    super(
      `the ${eventType} event would be ${bytes} bytes as a CloudEvent, over the ${maxPublishableEventBytes} bytes ` +
        'an Event Grid publish request carrying it alone can hold (1 MB per request and per event)',
    );
  }
}

/**
 * The decider produced an event its own schema refuses: a bug, never the caller's input. Nothing was written.
 * Events are immutable and published, so an invalid one must never reach the store (issue 9: prototype-named
 * product ids once made StockReleased without `quantity` and `reservationId`). API: 500.
 */
export class InvalidEventError extends Error {
  constructor(
    readonly eventType: string,
    readonly problem: string,
  ) {
    super(`refusing to append ${eventType}: its data breaks the event's schema (${problem})`);
  }
}

/**
 * Checks each event's data against the catalogue at its current schema version (src/domain/events.ts).
 * @throws InvalidEventError for the first event whose data does not validate
 */
export function assertValidEvents(events: OrderEvent[]): void {
  for (const event of events) {
    const r = eventDataSchemas[event.type].safeParse(event.data);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new InvalidEventError(event.type, `${issue.path.join('.') || 'data'}: ${issue.message}`);
    }
  }
}

const emptyAttributes: CloudEventOptions = { source: '', typePrefix: '', schemaBaseUrl: '' };

/**
 * Refuses a command whose events could never be published: each event's CloudEvent, exactly as the relay maps
 * it (src/app/cloudEvents.ts: envelope, attributes, extensions, upcast data) at the version it will have,
 * must fit {@link maxPublishableEventBytes}, the JSON an Event Grid request carrying that event alone (`[`
 * event `]`) may have under Event Grid's 1 MB request and event limits (learn.microsoft.com/azure/event-grid/quotas-limits).
 * The publisher sends that JSON as it is (src/adapters/eventgrid/eventGridPublisher.ts). Not counted: a
 * `traceparent`/`tracestate` the Event Grid SDK copies from its own request into an event without one, which
 * it does only when an Azure SDK tracing instrumenter is registered (this app registers none).
 * @throws EventTooLargeError for the first event over the limit
 */
function assertPublishable(
  orderId: string,
  version: number,
  records: StoredEventRecord[],
  options: CloudEventOptions | undefined,
): void {
  const commit = {
    id: commitId(version),
    orderId,
    kind: 'commit' as const,
    i: version,
    n: version + records.length,
    e: records,
    recordedAt: new Date(0).toISOString(),
  };
  const reserve = options ? 0 : unknownAttributesReserveBytes;
  for (const event of toCloudEvents(commit, options ?? emptyAttributes)) {
    const bytes = jsonBytes(event) + reserve;
    if (bytes > maxPublishableEventBytes) throw new EventTooLargeError(event.type, bytes);
  }
}

/**
 * The command handling every writer goes through (HTTP functions, the import, the orchestration's activities):
 * load the stream, decide, append with the loaded version as expected version.
 *
 * Without an `expectedVersion` from the caller, a concurrent writer's commit makes the command re-run
 * against the new state (up to 25 times); with one, the caller's view is stale and the conflict surfaces.
 */
export class OrderService {
  /**
   * @param cloudEvents the attributes the relay publishes with (`Services.cloudEvents`), so the size rule
   *   counts each CloudEvent exactly; without them it reserves {@link unknownAttributesReserveBytes}
   */
  constructor(
    readonly store: EventStore,
    private readonly clock: () => Date = () => new Date(),
    private readonly cloudEvents?: CloudEventOptions,
  ) {}

  /** Loads an order's state. @throws UnknownEventError for events written by a newer version of the code. */
  async load(orderId: string, options?: ReadStreamOptions): Promise<LoadedOrder> {
    const slice = await this.store.readStream(orderId, options);
    const domainEvents = slice.events.map(toDomainEvent);
    return { state: fold(domainEvents), version: slice.version, events: slice.events };
  }

  /**
   * Handles one command.
   * @throws DomainError when the decider refuses it
   * @throws InvalidEventError when an event would break its schema (a bug; nothing is written)
   * @throws EventTooLargeError when an event's CloudEvent could never be published to Event Grid
   * @throws WrongExpectedVersionError when `expectedVersion` is stale or the retries run out
   */
  async handle(orderId: string, input: CommandInput, options: HandleOptions = {}): Promise<HandleResult> {
    const command = { ...input, occurredAt: input.occurredAt ?? this.clock().toISOString() } as OrderCommand;
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.load(orderId);
      if (options.expectedVersion !== undefined && options.expectedVersion !== loaded.version) {
        if (!loaded.state.exists) throw new DomainError('not-found', 'order does not exist');
        throw new WrongExpectedVersionError(orderId, options.expectedVersion, loaded.version);
      }
      const events = decide(command, loaded.state);
      if (events.length === 0) return { ...loaded, appended: [] };
      assertValidEvents(events);
      const records = events.map((e) => toRecord(e, options.metadata));
      assertPublishable(orderId, loaded.version, records, this.cloudEvents);
      try {
        const result = await this.store.append(orderId, loaded.version, records);
        const appended = result.commit.e.map((e, k) => ({
          ...e,
          orderId,
          version: result.commit.i + k + 1,
          recordedAt: result.commit.recordedAt,
        }));
        return {
          state: fold(events, loaded.state),
          version: result.version,
          events: [...loaded.events, ...appended],
          appended,
        };
      } catch (err) {
        const retry =
          err instanceof WrongExpectedVersionError &&
          options.expectedVersion === undefined &&
          attempt < maxConflictRetries;
        if (!retry) throw err;
      }
    }
  }
}

export function toRecord(event: OrderEvent, metadata: EventMetadata = {}): StoredEventRecord {
  return {
    type: event.type,
    schemaVersion: currentSchemaVersion[event.type],
    data: event.data,
    occurredAt: event.occurredAt,
    metadata,
  };
}

export const toDomainEvent = (e: RecordedEvent | StoredEventRecord): OrderEvent =>
  upcast(e.type, e.schemaVersion, e.data, e.occurredAt);
