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

/**
 * The folded state of a stream, kept in its head (docs/adr/0015-snapshot-in-the-head.md). Written by `append`
 * in the same transaction as the commit that brings the stream to `version` (or by `saveSnapshot` while the
 * head is at `version`), so a snapshot never runs ahead of or behind the commits it claims. What `state`
 * holds, and which fold produced it, is the writer's business: a reader whose `schema` differs ignores it
 * and folds the events instead.
 */
export interface StreamSnapshot {
  /** Which fold produced `state` (the decider's and the upcasters' version), as its writer names it. */
  schema: string;
  /** The stream version `state` is folded up to: the head's version when it is current. */
  version: number;
  /** JSON. */
  state: unknown;
}

/** An order's head: its version and, when one was kept, the snapshot of its folded state. */
export interface StreamHead {
  version: number;
  /** Absent when the last writer left none (or it did not fit the store's item limit). */
  snapshot?: StreamSnapshot;
}

export interface AppendOptions {
  /**
   * The state after this commit, kept in the head with it (its version is the commit's `n`). Without one,
   * the head keeps no snapshot. A store may leave it out when the head would exceed its item limit
   * (Cosmos DB's 2 MB), never the commit.
   */
  snapshot?: Omit<StreamSnapshot, 'version'>;
}

/** One page of a stream's events, for the paged audit trail (`GET /api/orders/{orderId}/events`). */
export interface EventPage {
  /** The stream version when the page was read; the page never holds an event above it. */
  version: number;
  /** Events after the requested version, in version order, at most the requested number. */
  events: RecordedEvent[];
}

/** The largest `limit` of `readEvents`. */
export const maxEventPage = 1000;

/** A page of the global feed of commits, for the change feed. `position` is opaque and resumable. */
export interface FeedPage {
  commits: CommitDocument[];
  position: string;
}

/** Commits and events recorded in one UTC minute: the activity figures of the overview (`GET /api/overview`). */
export interface MinuteActivity {
  /** Start of the minute, ISO 8601 UTC, such as `2026-12-02T10:41:00.000Z`. */
  minute: string;
  /** Commits recorded in it: one per accepted command. */
  commits: number;
  /** Events in those commits. */
  events: number;
}

/** The largest `limit` of `readLatestCommits`. */
export const maxLatestCommits = 1000;

export interface AppendResult {
  commit: CommitDocument;
  /** Stream version after the append. */
  version: number;
}

/**
 * One commit of a group commit (`EventStore.appendCommits`): what one `append` call takes.
 */
export interface CommitRequest {
  orderId: string;
  /** The stream's version before this commit (0 = the stream must not exist yet). */
  expectedVersion: number;
  /** The events of one command, at least one. */
  events: StoredEventRecord[];
  options?: AppendOptions;
}

/** What became of one commit of a group commit: written, or refused for its expected version. */
export type CommitOutcome =
  { ok: true; result: AppendResult } | { ok: false; error: WrongExpectedVersionError };

/** The most commits `appendCommits` takes in one call. */
export const maxCommitBatch = 10_000;

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
  append(
    orderId: string,
    expectedVersion: number,
    events: StoredEventRecord[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /**
   * Group commit: appends many commits, each under the rules of `append` (its own expected version, its own
   * events and metadata, its snapshot kept in the head), in the order given. A stream may appear several times,
   * each commit expecting the version the one before it reaches. Each commit stays one commit document; only
   * the writing is grouped (SQLite: one IMMEDIATE transaction for the whole batch; Cosmos DB: each commit is the
   * transactional batch `append` writes, one order's commits in sequence, several orders in parallel).
   *
   * A commit whose expected version is not the stream's is refused and writes nothing, and so are the later
   * commits of that stream in the batch (they were decided on top of it), whatever their expected version; the
   * other streams' commits are written. Returns one outcome per commit, in the order given.
   *
   * Atomicity: on SQLite the batch is all or nothing when it throws; on Cosmos DB, which has no transaction
   * across partitions, a throw may leave some commits written (each whole and guarded, in its stream's order:
   * re-reading the heads tells which).
   * @throws RangeError for an empty or oversized batch (1 to {@link maxCommitBatch}), an empty event list or a
   *   malformed expected version (checked for every commit before anything is written)
   * @throws CommitTooLargeError when a commit exceeds the store's item limit (checked before anything is written)
   */
  appendCommits(batch: CommitRequest[]): Promise<CommitOutcome[]>;
  /** Reads one stream in version order; an unknown stream reads as version 0 with no events. */
  readStream(orderId: string, options?: ReadStreamOptions): Promise<StreamSlice>;
  /**
   * The order's head, one row or one point read whatever the stream's length: its version and snapshot;
   * undefined for an unknown stream.
   */
  readHead(orderId: string): Promise<StreamHead | undefined>;
  /**
   * Keeps `snapshot` in the head if the head is still at `snapshot.version` (a snapshot rebuilt from the
   * events after the fold changed); otherwise, or when it does not fit the store's item limit, does nothing.
   * @returns whether it was kept
   */
  saveSnapshot(orderId: string, snapshot: StreamSnapshot): Promise<boolean>;
  /**
   * The events after version `after`, in version order, at most `limit` (1 to {@link maxEventPage}), never
   * above the head's version: reads only the commits that hold them (SQLite: a range of the (order, i)
   * index; Cosmos DB: one query in the order's partition on the indexed `i` and `n`), not the whole stream.
   * An unknown stream reads as version 0 with no events.
   * @throws RangeError for a limit outside 1..maxEventPage or an `after` that is not a non-negative integer
   */
  readEvents(orderId: string, after: number, limit: number): Promise<EventPage>;
  /** Reads commits after `position` (undefined = from the start) in commit order, at most `limit`. */
  readFeed(position: string | undefined, limit: number): Promise<FeedPage>;
  /**
   * The newest commits, newest first (by `recordedAt`, then order id, descending), at most `limit` (1 to
   * {@link maxLatestCommits}): the live stream of the dashboard (`GET /api/events/recent`).
   * @throws RangeError for a limit outside 1..maxLatestCommits
   */
  readLatestCommits(limit: number): Promise<CommitDocument[]>;
  /**
   * Commits and events recorded at or after `since` (ISO 8601 UTC), per UTC minute, oldest first; minutes
   * without a commit are left out.
   * @throws RangeError when `since` is not an ISO 8601 time
   */
  activitySince(since: string): Promise<MinuteActivity[]>;
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

/** The start of the UTC minute of an ISO 8601 time, as ISO 8601 (`…T10:41:00.000Z`). */
export const minuteOf = (iso: string): string => {
  const ms = Date.parse(iso);
  return new Date(ms - (((ms % 60_000) + 60_000) % 60_000)).toISOString();
};

/** Sums commit stamps (`recordedAt` and event count) per UTC minute, oldest first. */
export function activityByMinute(stamps: Iterable<{ recordedAt: string; events: number }>): MinuteActivity[] {
  const minutes = new Map<string, MinuteActivity>();
  for (const { recordedAt, events } of stamps) {
    const minute = minuteOf(recordedAt);
    const m = minutes.get(minute) ?? { minute, commits: 0, events: 0 };
    m.commits += 1;
    m.events += events;
    minutes.set(minute, m);
  }
  return [...minutes.values()].sort((a, b) => (a.minute < b.minute ? -1 : a.minute > b.minute ? 1 : 0));
}

/** Checks the arguments of `readLatestCommits` and `activitySince`, as every adapter does. */
export function assertLatestLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLatestCommits) {
    throw new RangeError(`limit must be a whole number from 1 to ${maxLatestCommits}, got ${limit}`);
  }
}
export function assertSince(since: string): void {
  if (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(Date.parse(since))) {
    throw new RangeError(`since must be an ISO 8601 time, got ${since}`);
  }
}

/** Checks the arguments of `readEvents`, as every adapter does. */
export function assertEventPage(after: number, limit: number): void {
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new RangeError(`after must be a non-negative integer, got ${after}`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > maxEventPage) {
    throw new RangeError(`limit must be a whole number from 1 to ${maxEventPage}, got ${limit}`);
  }
}

/** The events of `commits` (contiguous, in version order) with versions in (after, upTo]. */
export function eventsInRange(commits: CommitDocument[], after: number, upTo: number): RecordedEvent[] {
  return commits.flatMap(eventsOfCommit).filter((e) => e.version > after && e.version <= upTo);
}

/**
 * The continuation token of the paged audit trail: the last version a page returned, opaque to callers
 * (base64url JSON `{"v":n}`, as the order list's tokens are base64url JSON).
 */
export const encodeEventsToken = (after: number): string =>
  Buffer.from(JSON.stringify({ v: after })).toString('base64url');

/** The version a token continues after, or undefined for a token this service could not have issued. */
export function decodeEventsToken(token: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const keys = Object.keys(value);
    const v = (value as { v?: unknown }).v;
    if (keys.length === 1 && keys[0] === 'v' && Number.isSafeInteger(v) && (v as number) >= 1)
      return v as number;
  } catch {
    // not JSON: not ours
  }
  return undefined;
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

/**
 * Checks a group commit's arguments, as every adapter does before writing anything.
 * @throws RangeError for an empty or oversized batch, an empty event list or a malformed expected version
 */
export function assertCommitBatch(batch: CommitRequest[]): void {
  if (batch.length === 0 || batch.length > maxCommitBatch) {
    throw new RangeError(`a group commit holds 1 to ${maxCommitBatch} commits, got ${batch.length}`);
  }
  for (const c of batch) assertAppendArgs(c.expectedVersion, c.events);
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
