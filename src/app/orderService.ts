import { KeyedQueue } from './keyedQueue';
import { decide, deciderVersion, DomainError, fold, OrderCommand } from '../domain/decider';
import { currentSchemaVersion, eventDataSchemas, OrderEvent } from '../domain/events';
import { OrderState, reviveState } from '../domain/state';
import { upcast } from '../domain/upcasters';
import { jsonBytes, maxPublishableEventBytes } from '../ports/cloudEvents';
import {
  commitId,
  CommitOutcome,
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
import { Attributes, context, isSpanContextValid, Span, SpanKind, trace } from '@opentelemetry/api';
import { instrument } from '../shared/instruments';
import { attributeNames, commandOutcomes, metricDefinitions } from '../shared/telemetryNames';
import { describeCommand, errorTypeOf, failed, inSpan, tracer, traceparentOf } from './tracing';

/** A command as callers send it: business time defaults to the service clock. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type CommandInput = DistributiveOmit<OrderCommand, 'occurredAt'> & { occurredAt?: string };

export interface LoadedOrder {
  state: OrderState;
  version: number;
  events: RecordedEvent[];
  /** Business time of the last event read (`updatedAt` of the order's view); undefined when none was. */
  updatedAt?: string;
}

/** An order's current state and version, as a command sees it (`OrderService.current`). */
export interface CurrentOrder {
  state: OrderState;
  version: number;
  /** Business time of the order's last event; undefined for an order that does not exist. */
  updatedAt?: string;
  /** Where the state came from: the head's snapshot, or a fold of the events (none kept, or a stale one). */
  source: 'snapshot' | 'events';
}

export interface HandleOptions {
  /** The version the caller last saw (from `If-Match`); a mismatch throws WrongExpectedVersionError. */
  expectedVersion?: number;
  metadata?: EventMetadata;
}

/**
 * A commit the caller decided in memory (the import's history, `replayHistories` in src/app/history.ts): the
 * events `decide` produced for one command on the order at `expectedVersion`, and the state they lead to.
 */
export interface DecidedCommit {
  orderId: string;
  expectedVersion: number;
  /** At least one. */
  events: OrderEvent[];
  /** The order's state after `events` (`fold(events, state before)`): kept as the head's snapshot. */
  state: OrderState;
  metadata?: EventMetadata;
}

export interface HandleResult {
  state: OrderState;
  version: number;
  /**
   * The order's latest events, not its whole stream (a command reads the head, not the stream): the events
   * this command appended, or, when it appended none, the last stored event (none when the order does not
   * exist). The last of them is the order's last event.
   */
  events: RecordedEvent[];
  /** Events this command appended; empty when it changed nothing. */
  appended: RecordedEvent[];
  /** Business time of the order's last event (`updatedAt` of its view); undefined when it does not exist. */
  updatedAt?: string;
}

/**
 * The key of the snapshots this code writes and trusts (docs/adr/0015-snapshot-in-the-head.md): the fold's
 * version (`deciderVersion`) and every event type's current schema version. A snapshot under another key was
 * folded by other code (an older or newer deployment): it is ignored, the events are folded instead, and
 * the result is kept in its place.
 */
export const snapshotSchema = `order-state.v${deciderVersion}.${fnv1a(
  Object.entries(currentSchemaVersion)
    .map(([type, v]) => `${type}@${v}`)
    .sort()
    .join(','),
)}`;

/** What the head's snapshot holds: the folded state and the business time of the last event folded. */
interface OrderSnapshot {
  state: OrderState;
  updatedAt: string;
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
 * read the order's head (its version and the snapshot of its folded state, `current`), decide, append with that
 * version as expected version and the state after the commit as the head's new snapshot, in one transaction
 * (docs/adr/0015-snapshot-in-the-head.md). A command's cost does not grow with the order's stream; `load`, which
 * folds the events (up to a version or a business time), is for reads that need them.
 *
 * Without an `expectedVersion` from the caller, a concurrent writer's commit makes the command re-run
 * against the new state (up to 25 times); with one, the caller's view is stale and the conflict surfaces.
 */
export class OrderService {
  /**
   * This process's commands on one order, one at a time: those that would otherwise read the same head and
   * all but one fail the version check and retry (50 clients on one order: a client p99 of 7 s) wait their
   * turn instead. Other processes' commits still surface as version conflicts, retried as before.
   */
  private readonly commands = new KeyedQueue();

  /**
   * @param cloudEvents the attributes the relay publishes with (`Services.cloudEvents`), so the size rule
   *   counts each CloudEvent exactly; without them it reserves {@link unknownAttributesReserveBytes}
   * @param telemetry what the append spans and metric name as `db.system.name` (`sqlite`, `azure.cosmosdb`)
   */
  constructor(
    readonly store: EventStore,
    private readonly clock: () => Date = () => new Date(),
    private readonly cloudEvents?: CloudEventOptions,
    private readonly telemetry: OrderServiceTelemetry = { dbSystem: 'other_sql' },
  ) {}

  /** Loads an order's state. @throws UnknownEventError for events written by a newer version of the code. */
  async load(orderId: string, options?: ReadStreamOptions): Promise<LoadedOrder> {
    const slice = await this.store.readStream(orderId, options);
    const domainEvents = slice.events.map(toDomainEvent);
    return {
      state: fold(domainEvents),
      version: slice.version,
      events: slice.events,
      updatedAt: slice.events.at(-1)?.occurredAt,
    };
  }

  /**
   * The order as its head has it: from the snapshot when that is at the head's version and of this code's
   * {@link snapshotSchema}, the empty order when there is no head, else `stale` (the events must be folded).
   */
  private async fromHead(orderId: string): Promise<CurrentOrder | 'stale'> {
    const head = await this.store.readHead(orderId);
    if (!head) return { state: fold([]), version: 0, source: 'events' };
    const kept =
      head.snapshot?.schema === snapshotSchema && head.snapshot.version === head.version
        ? asOrderSnapshot(head.snapshot.state)
        : undefined;
    return kept
      ? { state: kept.state, version: head.version, updatedAt: kept.updatedAt, source: 'snapshot' }
      : 'stale';
  }

  /**
   * An order's current state for a read (`GET /api/orders/{orderId}` without `asOf`): the head's snapshot
   * when it is current and of this code's {@link snapshotSchema}, at the cost of one head read whatever the
   * stream's length; otherwise the fold of the events (`load`), as `current` does. Unlike `current`, a read
   * never writes: the snapshot is rebuilt by the order's next command.
   * @throws UnknownEventError for events written by a newer version of the code
   */
  async read(orderId: string): Promise<CurrentOrder> {
    const fromHead = await this.fromHead(orderId);
    if (fromHead !== 'stale') return fromHead;
    const { state, version, updatedAt } = await this.load(orderId);
    return { state, version, updatedAt, source: 'events' };
  }

  /**
   * An order's current state and version at the cost of one head read, whatever the length of its stream:
   * the snapshot the head keeps, when it is at the head's version and of this code's {@link snapshotSchema}.
   * Otherwise (no snapshot kept, one folded by other code, or none that fitted the store's item limit) the
   * events are read and folded, and the result is kept in the head for the next command (when the head has
   * not moved meanwhile). Exact either way: a snapshot is only ever written with the commit that reached its
   * version, or at the version it was folded to.
   * @throws UnknownEventError for events written by a newer version of the code
   */
  async current(orderId: string): Promise<CurrentOrder> {
    const fromHead = await this.fromHead(orderId);
    if (fromHead !== 'stale') return fromHead;
    const slice = await this.store.readStream(orderId);
    const state = fold(slice.events.map(toDomainEvent));
    const updatedAt = slice.events.at(-1)?.occurredAt;
    if (updatedAt !== undefined) {
      const snapshot: OrderSnapshot = { state, updatedAt };
      // Only saves the next command a fold: a failure here must not fail this one.
      await this.store
        .saveSnapshot(orderId, { schema: snapshotSchema, version: slice.version, state: snapshot })
        .catch(() => false);
    }
    return { state, version: slice.version, updatedAt, source: 'events' };
  }

  /**
   * Handles one command. Traced (docs/observability.md): a `decide <Type>` span (load, fold, decide) and an
   * `append events` span per attempt, children of the active span; the commit's events carry the append
   * span's `traceparent` (with telemetry off, the caller's `metadata.traceparent` as given), which the change
   * feed, the CloudEvents and the consumers continue. Counted in `orders.command.duration` by type and outcome,
   * which also go on the HTTP function's span (`describeCommand`).
   * @throws DomainError when the decider refuses it
   * @throws InvalidEventError when an event would break its schema (a bug; nothing is written)
   * @throws EventTooLargeError when an event's CloudEvent could never be published to Event Grid
   * @throws WrongExpectedVersionError when `expectedVersion` is stale or the retries run out
   */
  async handle(orderId: string, input: CommandInput, options: HandleOptions = {}): Promise<HandleResult> {
    const command = { ...input, occurredAt: input.occurredAt ?? this.clock().toISOString() } as OrderCommand;
    const started = performance.now();
    let outcome: string = commandOutcomes.failed;
    try {
      const result = await this.commands.run(orderId, () => this.handleCommand(orderId, command, options));
      outcome = result.appended.length ? commandOutcomes.appended : commandOutcomes.unchanged;
      return result;
    } catch (err) {
      outcome = outcomeOf(err);
      throw err;
    } finally {
      const attributes = {
        [attributeNames.commandType]: command.type,
        [attributeNames.commandOutcome]: outcome,
      };
      instrument(metricDefinitions.commandDuration).record((performance.now() - started) / 1000, attributes);
      describeCommand({ ...attributes, [attributeNames.orderId]: orderId });
    }
  }

  private async handleCommand(
    orderId: string,
    command: OrderCommand,
    options: HandleOptions,
  ): Promise<HandleResult> {
    for (let attempt = 0; ; attempt++) {
      const { current, events } = await inSpan(
        `decide ${command.type}`,
        {
          attributes: { [attributeNames.orderId]: orderId, [attributeNames.commandType]: command.type },
          expected: isAnswer,
        },
        async (span) => {
          const current = await this.current(orderId);
          span.setAttribute(attributeNames.expectedVersion, current.version);
          if (options.expectedVersion !== undefined && options.expectedVersion !== current.version) {
            if (!current.state.exists) throw new DomainError('not-found', 'order does not exist');
            throw new WrongExpectedVersionError(orderId, options.expectedVersion, current.version);
          }
          const events = decide(command, current.state);
          span.setAttribute(attributeNames.eventCount, events.length);
          return { current, events };
        },
      );
      if (events.length === 0) {
        const last = await this.lastEvent(orderId, current.version);
        return {
          state: current.state,
          version: current.version,
          events: last ? [last] : [],
          appended: [],
          updatedAt: current.updatedAt,
        };
      }
      assertValidEvents(events);
      const state = fold(events, current.state);
      const updatedAt = events[events.length - 1].occurredAt;
      const snapshot: OrderSnapshot = { state, updatedAt };
      try {
        const result = await this.append(orderId, current.version, events, options.metadata, snapshot);
        const appended = result.commit.e.map((e, k) => ({
          ...e,
          orderId,
          version: result.commit.i + k + 1,
          recordedAt: result.commit.recordedAt,
        }));
        return { state, version: result.version, events: appended, appended, updatedAt };
      } catch (err) {
        const retry =
          err instanceof WrongExpectedVersionError &&
          options.expectedVersion === undefined &&
          attempt < maxConflictRetries;
        if (!retry) throw err;
      }
    }
  }

  /**
   * Group commit of commits decided in memory: each is checked as `handle` checks a command's events (schema,
   * publishable size) and appended with the state after it as the head's snapshot, all in one
   * `EventStore.appendCommits` (one transaction on SQLite). One `append events` span for the batch, whose
   * `traceparent` every commit's events carry (with telemetry off, `metadata` as given), and one
   * `db.client.operation.duration` record; `orders.command.duration` is not recorded (no command was handled
   * here). No retry: a commit refused for its version comes back as such, with the later commits of its order.
   * @returns one outcome per commit, in order (see `EventStore.appendCommits`)
   * @throws InvalidEventError when an event would break its schema (a bug; nothing is written)
   * @throws EventTooLargeError when an event's CloudEvent could never be published (nothing is written)
   * @throws RangeError for an empty batch or a commit without events
   */
  async appendDecided(commits: DecidedCommit[]): Promise<CommitOutcome[]> {
    const eventCount = commits.reduce((n, c) => n + c.events.length, 0);
    return this.inAppendSpan({ [attributeNames.eventCount]: eventCount }, (span) => {
      const batch = commits.map((c) => {
        assertValidEvents(c.events);
        const records = c.events.map((e) => toRecord(e, withTraceContext(c.metadata, span)));
        assertPublishable(c.orderId, c.expectedVersion, records, this.cloudEvents);
        const updatedAt = c.events[c.events.length - 1].occurredAt;
        const snapshot: OrderSnapshot = { state: c.state, updatedAt };
        return {
          orderId: c.orderId,
          expectedVersion: c.expectedVersion,
          events: records,
          options: { snapshot: { schema: snapshotSchema, state: snapshot } },
        };
      });
      return this.store.appendCommits(batch);
    });
  }

  /** The event at `version` (the order's last one when nothing was appended): one bounded read. */
  private async lastEvent(orderId: string, version: number): Promise<RecordedEvent | undefined> {
    if (version === 0) return undefined;
    return (await this.store.readEvents(orderId, version - 1, 1)).events[0];
  }

  /**
   * Appends one commit in an `append events` span (a database client span of the OpenTelemetry conventions,
   * with the request charge on Cosmos DB) and records `db.client.operation.duration`. The span is started
   * first, so the events can carry its `traceparent`: the commit's creation context.
   */
  private async append(
    orderId: string,
    version: number,
    events: OrderEvent[],
    metadata: EventMetadata | undefined,
    snapshot: OrderSnapshot,
  ) {
    const attributes = {
      [attributeNames.orderId]: orderId,
      [attributeNames.expectedVersion]: version,
      [attributeNames.eventCount]: events.length,
    };
    return this.inAppendSpan(attributes, async (span) => {
      const records = events.map((e) => toRecord(e, withTraceContext(metadata, span)));
      assertPublishable(orderId, version, records, this.cloudEvents);
      const result = await this.store.append(orderId, version, records, {
        snapshot: { schema: snapshotSchema, state: snapshot },
      });
      span.setAttribute(attributeNames.streamVersion, result.version);
      return result;
    });
  }

  /**
   * Runs `write` in an `append events` span (a database client span of the OpenTelemetry conventions, with
   * `attributes` beside the database ones; the span is active while `write` runs) and records
   * `db.client.operation.duration`, with `error.type` when `write` throws.
   */
  private async inAppendSpan<T>(attributes: Attributes, write: (span: Span) => Promise<T>): Promise<T> {
    const db = {
      [attributeNames.dbSystem]: this.telemetry.dbSystem,
      [attributeNames.dbOperation]: 'append',
      [attributeNames.dbCollection]: 'events',
    };
    const span = tracer().startSpan('append events', {
      kind: SpanKind.CLIENT,
      attributes: { ...db, ...attributes },
    });
    const started = performance.now();
    let errorType: string | undefined;
    try {
      return await context.with(trace.setSpan(context.active(), span), () => write(span));
    } catch (err) {
      errorType = errorTypeOf(err);
      failed(span, err);
      throw err;
    } finally {
      span.end();
      instrument(metricDefinitions.appendDuration).record(
        (performance.now() - started) / 1000,
        errorType ? { ...db, [attributeNames.errorType]: errorType } : db,
      );
    }
  }
}

/**
 * The snapshot a head holds, if it has the shape this code writes; anything else reads as none (and the
 * events are folded instead). The reservations get their null prototype back (`reviveState`).
 */
function asOrderSnapshot(value: unknown): OrderSnapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { state, updatedAt } = value as Partial<OrderSnapshot>;
  if (typeof updatedAt !== 'string' || typeof state !== 'object' || state === null) return undefined;
  if (typeof state.exists !== 'boolean' || typeof state.status !== 'string' || !Array.isArray(state.lines)) {
    return undefined;
  }
  return { state: reviveState(state), updatedAt };
}

/** 32-bit FNV-1a of a string, as 8 hex digits: a short, stable key, not a security measure. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** How the append spans and metric name the store (`db.system.name`). */
export interface OrderServiceTelemetry {
  dbSystem: string;
}

/** A refusal or a stale version is the caller's answer (4xx), not a failure of the command handling. */
const isAnswer = (err: unknown) => err instanceof DomainError || err instanceof WrongExpectedVersionError;

function outcomeOf(err: unknown): string {
  if (err instanceof DomainError) return commandOutcomes.refused;
  if (err instanceof WrongExpectedVersionError) return commandOutcomes.versionConflict;
  return commandOutcomes.failed;
}

/**
 * The metadata the commit's events carry: with a span context (telemetry on), its `traceparent` (and
 * `tracestate`), the creation context of the commit; without one, the metadata as the caller gave it.
 */
function withTraceContext(metadata: EventMetadata = {}, span: Span): EventMetadata {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return metadata;
  const { tracestate: _previous, ...rest } = metadata;
  const state = sc.traceState?.serialize();
  return { ...rest, traceparent: traceparentOf(sc), ...(state ? { tracestate: state } : {}) };
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
