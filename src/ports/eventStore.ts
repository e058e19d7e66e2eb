/**
 * The event store port. Both adapters (embedded SQLite, Cosmos DB) implement it and pass the same
 * contract suite (test/store/contract.ts): docs/adr/0001-one-event-model-two-stores.md.
 *
 * Versions: an order's stream version is the number of events in it (0 = no stream). Event k of a stream
 * (0-based index) has version k + 1. A commit holds the events of one command.
 */

/** One event as stored inside a commit. `schemaVersion` is the event type's schema version when written. */
export interface StoredEventRecord {
  type: string;
  schemaVersion: number;
  data: unknown;
  /** Business time, ISO 8601 UTC. */
  occurredAt: string;
  metadata: EventMetadata;
}

/** Who and what caused an event: correlation and causation ids, W3C trace context, the issuing actor. */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  traceparent?: string;
  actor?: string;
  [key: string]: string | undefined;
}

/**
 * The immutable commit document of docs/adr/0002-commit-documents.md (Equinox-style). The same shape is a Cosmos item
 * in production and a row's JSON in SQLite, so the change-feed handler sees identical documents.
 * - `id`: the first version, zero-padded to 10 digits, so ids sort by version and collide on a race.
 * - `orderId`: the partition key (`/orderId`).
 * - `i`: index of the first event (0-based) = stream version before the commit; `n`: stream version after.
 */
export interface CommitDocument {
  id: string;
  orderId: string;
  kind: 'commit';
  i: number;
  n: number;
  e: StoredEventRecord[];
  /** When the store accepted the commit, ISO 8601 UTC. */
  recordedAt: string;
}

/** An event read back, with its position in the stream. */
export interface RecordedEvent extends StoredEventRecord {
  orderId: string;
  version: number;
  recordedAt: string;
}

export interface ReadStreamOptions {
  /** Read up to and including this stream version. */
  toVersion?: number;
  /**
   * Read as of this business time (ISO 8601): the longest prefix of the stream whose events all occurred
   * at or before it. A prefix, not a filter, because imported history can have out-of-order business times.
   */
  asOf?: string;
}

export interface StreamSlice {
  /** Version of the last event returned (0 when none). */
  version: number;
  events: RecordedEvent[];
}

/** A page of the global feed of commits, for the change feed. `position` is opaque and resumable. */
export interface FeedPage {
  commits: CommitDocument[];
  position: string;
}

export interface AppendResult {
  commit: CommitDocument;
  /** Stream version after the append. */
  version: number;
}

/** The expected version did not match the stream's version; nothing was written. API: 412. */
export class WrongExpectedVersionError extends Error {
  constructor(
    readonly orderId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
  ) {
    super(
      `order ${orderId}: expected version ${expectedVersion}, stream is at ${actualVersion ?? 'unknown'}`,
    );
  }
}

/** A commit exceeds a store limit (e.g. Cosmos' 2 MB item); nothing was written. API: 413. */
export class CommitTooLargeError extends Error {
  constructor(
    message: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(message);
  }
}

/**
 * Where orders' events are kept: one port, two adapters (SqliteEventStore, CosmosEventStore) and one contract
 * suite (docs/adr/0001-one-event-model-two-stores.md); appends are guarded by expected version
 * (docs/adr/0003-optimistic-concurrency.md).
 */
export interface EventStore {
  /**
   * Appends one commit atomically if the stream is at `expectedVersion` (0 = the stream must not exist).
   * @throws WrongExpectedVersionError when it is not (no gap, no overlap, whatever the caller sends)
   * @throws RangeError for an empty event list or an expected version that is not a non-negative integer
   * @throws CommitTooLargeError when the commit exceeds the store's item limit
   */
  append(orderId: string, expectedVersion: number, events: StoredEventRecord[]): Promise<AppendResult>;
  /** Reads one stream in version order; an unknown stream reads as version 0 with no events. */
  readStream(orderId: string, options?: ReadStreamOptions): Promise<StreamSlice>;
  /** Reads commits after `position` (undefined = from the start) in commit order, at most `limit`. */
  readFeed(position: string | undefined, limit: number): Promise<FeedPage>;
  /** Last stored checkpoint of a named consumer (a change-feed lease), or undefined. */
  getCheckpoint(consumer: string): Promise<string | undefined>;
  setCheckpoint(consumer: string, position: string): Promise<void>;
  /**
   * Calls `listener` after each append made in this process to the same store has been committed; returns
   * the unsubscribe function. The local host uses it to wake its change feed instead of waiting for a poll.
   */
  onAppended(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Commit id from its first version: zero-padded so lexical order is version order. */
export const commitId = (i: number): string => String(i).padStart(10, '0');

/** Expands a commit into its recorded events. */
export function eventsOfCommit(commit: CommitDocument): RecordedEvent[] {
  return commit.e.map((e, k) => ({
    ...e,
    orderId: commit.orderId,
    version: commit.i + k + 1,
    recordedAt: commit.recordedAt,
  }));
}

/** Applies `ReadStreamOptions` to the full ordered event list of a stream. */
export function sliceStream(events: RecordedEvent[], options: ReadStreamOptions = {}): StreamSlice {
  let out = events;
  if (options.toVersion !== undefined) out = out.filter((e) => e.version <= options.toVersion!);
  if (options.asOf !== undefined) {
    const limit = Date.parse(options.asOf);
    const firstAfter = out.findIndex((e) => Date.parse(e.occurredAt) > limit);
    if (firstAfter >= 0) out = out.slice(0, firstAfter);
  }
  return { version: out.length ? out[out.length - 1].version : 0, events: out };
}

/**
 * The commit document an append of `events` at `expectedVersion` writes, stamped with the current time.
 * @throws RangeError for a malformed expected version or an empty event list
 */
export function newCommit(
  orderId: string,
  expectedVersion: number,
  events: StoredEventRecord[],
): CommitDocument {
  assertAppendArgs(expectedVersion, events);
  return {
    id: commitId(expectedVersion),
    orderId,
    kind: 'commit',
    i: expectedVersion,
    n: expectedVersion + events.length,
    e: events,
    recordedAt: new Date().toISOString(),
  };
}

export function assertAppendArgs(expectedVersion: number, events: StoredEventRecord[]): void {
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw new RangeError(`expected version must be a non-negative integer, got ${expectedVersion}`);
  }
  if (events.length === 0) throw new RangeError('a commit needs at least one event');
}

/** A list of append listeners, for adapters to notify after a successful append. */
export class AppendListeners {
  private readonly listeners = new Set<() => void>();

  add(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const l of this.listeners) l();
  }

  private static readonly shared = new Map<string, AppendListeners>();

  /**
   * The listeners of one store (a database file, a Cosmos DB container), shared by every instance opened on
   * it in this process: the local host's change feed is woken by appends that the functions' own store
   * instance commits.
   */
  static of(storeKey: string): AppendListeners {
    let listeners = AppendListeners.shared.get(storeKey);
    if (!listeners) AppendListeners.shared.set(storeKey, (listeners = new AppendListeners()));
    return listeners;
  }
}
