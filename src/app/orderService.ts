import { decide, DomainError, fold, OrderCommand } from '../domain/decider';
import { currentSchemaVersion, OrderEvent } from '../domain/events';
import { OrderState } from '../domain/state';
import { upcast } from '../domain/upcasters';
import {
  EventMetadata,
  EventStore,
  ReadStreamOptions,
  RecordedEvent,
  StoredEventRecord,
  WrongExpectedVersionError,
} from '../store/eventStore';

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
 * Largest event the service accepts, in bytes of its JSON with room for the CloudEvent envelope: every
 * event must fit Event Grid's 1 MB event limit (learn.microsoft.com/azure/event-grid/quotas-limits),
 * or it could never be published.
 */
export const maxEventBytes = 1024 * 1024;
const envelopeAllowanceBytes = 1024;

/** The command's event would be too large to publish; nothing was written. API: 413. */
export class EventTooLargeError extends Error {
  constructor(
    readonly eventType: string,
    readonly bytes: number,
  ) {
    super(
      `the ${eventType} event would be ${bytes} bytes as a CloudEvent, over the ${maxEventBytes}-byte Event Grid limit`,
    );
  }
}

function assertPublishable(records: StoredEventRecord[]): void {
  for (const r of records) {
    const bytes = Buffer.byteLength(JSON.stringify(r), 'utf8') + envelopeAllowanceBytes;
    if (bytes > maxEventBytes) throw new EventTooLargeError(r.type, bytes);
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
  constructor(
    readonly store: EventStore,
    private readonly clock: () => Date = () => new Date(),
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
   * @throws EventTooLargeError when an event could not be published to Event Grid
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
      const records = events.map((e) => toRecord(e, options.metadata));
      assertPublishable(records);
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
