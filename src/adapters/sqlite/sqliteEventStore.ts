import {
  assertLatestLimit,
  assertSince,
  MinuteActivity,
  AppendResult,
  CommitDocument,
  EventStore,
  eventsOfCommit,
  FeedPage,
  ReadStreamOptions,
  sliceStream,
  StoredEventRecord,
  StreamSlice,
  WrongExpectedVersionError,
  AppendListeners,
  newCommit,
  AppendOptions,
  assertEventPage,
  EventPage,
  eventsInRange,
  StreamHead,
  StreamSnapshot,
  CommitRequest,
  CommitOutcome,
  assertCommitBatch,
} from '../../ports/eventStore';
import { closeDatabase, SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS commits (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL,
  i INTEGER NOT NULL,
  n INTEGER NOT NULL,
  doc TEXT NOT NULL,
  recorded_at TEXT,
  UNIQUE (order_id, i)
);
CREATE TABLE IF NOT EXISTS streams (order_id TEXT PRIMARY KEY, version INTEGER NOT NULL, snapshot TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (consumer TEXT PRIMARY KEY, position TEXT NOT NULL);
`;

/** WAL pages between automatic checkpoints on a connection that group-commits (SQLite's default is 1,000). */
const bulkCheckpointPages = 16_384;

/** A commit of a group commit, serialized before the transaction so that the lock is held for the writes only. */
interface PreparedCommit {
  commit: CommitDocument;
  expectedVersion: number;
  doc: string;
  /** The head's snapshot as JSON, or how to make it when it was not made beforehand. */
  snapshot: string | null | (() => string | null);
}

/**
 * Embedded event store on SQLite (libsql, prebuilt binaries). The `streams` row is the per-order head;
 * append checks and moves it in the same IMMEDIATE transaction as it inserts the commit, and
 * UNIQUE(order_id, i) backs that up, so no caller can create a gap or an overlap. The head row also keeps the
 * snapshot of the folded state (`snapshot`, JSON `{schema, version, state}`), written in that same
 * transaction (docs/adr/0015-snapshot-in-the-head.md). The AUTOINCREMENT
 * `position` is the global feed order the local change feed follows. The same commit documents as on Cosmos DB
 * (docs/adr/0001-one-event-model-two-stores.md); the guard is docs/adr/0003-optimistic-concurrency.md.
 */
export class SqliteEventStore implements EventStore {
  private readonly appended: AppendListeners;

  private readonly appendTx;
  /** Appends waiting for the next group commit (see `commitWaiting`). */
  private waitingAppends: { write: () => void; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private committing = false;
  private readonly writeGroup: (items: PreparedCommit[]) => CommitOutcome[];
  private bulkCheckpoints = false;
  private readonly headRow;
  private readonly versionRow;
  private readonly saveSnapshotRow;
  private readonly pageRows;
  // Prepared once: preparing a statement on every call cost as much as running it (a CPU profile of the
  // import's read-model catch-up and of the host's change feed).
  private readonly streamRows;
  private readonly feedRows;
  private readonly checkpointRow;
  private readonly upsertCheckpoint;

  constructor(private readonly db: SqliteDatabase) {
    this.appended = AppendListeners.of(`sqlite:${db.location}`);
    db.exec(schema);
    addSnapshotColumn(db);
    addRecordedAtColumn(db);
    const head = db.prepare('SELECT version FROM streams WHERE order_id = ?');
    const insertCommit = db.prepare(
      'INSERT INTO commits (order_id, i, n, doc, recorded_at) VALUES (?, ?, ?, ?, ?)',
    );
    const upsertHead = db.prepare(
      `INSERT INTO streams (order_id, version, snapshot) VALUES (?, ?, ?)
       ON CONFLICT(order_id) DO UPDATE SET version = excluded.version, snapshot = excluded.snapshot`,
    );
    // Run inside `writeTransaction`: the HTTP thread's one write per command must not wait for the lock in
    // SQLite's busy wait, which holds the event loop while the pipeline thread writes.
    this.appendTx = (commit: CommitDocument, expectedVersion: number, snapshot: string | null) => {
      const row = head.get(commit.orderId) as { version: number } | undefined;
      const actual = row?.version ?? 0;
      if (actual !== expectedVersion) {
        throw new WrongExpectedVersionError(commit.orderId, expectedVersion, actual);
      }
      insertCommit.run(commit.orderId, commit.i, commit.n, JSON.stringify(commit), commit.recordedAt);
      upsertHead.run(commit.orderId, commit.n, snapshot);
    };
    // The whole group in one transaction: one lock, one WAL commit. Each stream's head is read once and
    // written once, after its last commit of the batch (the snapshot of that commit): nobody else can see the
    // heads in between, and the write lock keeps other writers out, so the versions tracked here are the
    // stream's. Run inside `writeTransaction`.
    this.writeGroup = (items: PreparedCommit[]): CommitOutcome[] => {
      const reached = new Map<string, number>();
      const refused = new Set<string>();
      const heads = new Map<string, { version: number; snapshot: PreparedCommit['snapshot'] }>();
      const outcomes = items.map(({ commit, expectedVersion, doc, snapshot }): CommitOutcome => {
        const id = commit.orderId;
        let actual = reached.get(id);
        if (actual === undefined) {
          actual = (head.get(id) as { version: number } | undefined)?.version ?? 0;
          reached.set(id, actual);
        }
        if (refused.has(id) || actual !== expectedVersion) {
          refused.add(id);
          return { ok: false, error: new WrongExpectedVersionError(id, expectedVersion, actual) };
        }
        insertCommit.run(id, commit.i, commit.n, doc, commit.recordedAt);
        reached.set(id, commit.n);
        heads.set(id, { version: commit.n, snapshot });
        return { ok: true, result: { commit, version: commit.n } };
      });
      for (const [id, { version, snapshot }] of heads) {
        upsertHead.run(id, version, typeof snapshot === 'function' ? snapshot() : snapshot);
      }
      return outcomes;
    };
    this.headRow = db.prepare('SELECT version, snapshot FROM streams WHERE order_id = ?');
    this.versionRow = head;
    this.saveSnapshotRow = db.prepare('UPDATE streams SET snapshot = ? WHERE order_id = ? AND version = ?');
    this.streamRows = db.prepare('SELECT doc FROM commits WHERE order_id = ? ORDER BY i');
    this.feedRows = db.prepare(
      'SELECT position, doc FROM commits WHERE position > ? ORDER BY position LIMIT ?',
    );
    this.checkpointRow = db.prepare('SELECT position FROM checkpoints WHERE consumer = ?');
    this.upsertCheckpoint = db.prepare(
      'INSERT INTO checkpoints (consumer, position) VALUES (?, ?) ON CONFLICT(consumer) DO UPDATE SET position = excluded.position',
    );
    // The commits holding the versions in (after, upTo]: from the one holding version after + 1 (the last
    // starting at or before `after`) to the last starting before `upTo`. Both bounds are seeks in the
    // UNIQUE (order_id, i) index, so a page costs what it returns, wherever it is in the stream.
    this.pageRows = db.prepare(
      `SELECT doc FROM commits WHERE order_id = @orderId
         AND i >= coalesce((SELECT max(i) FROM commits WHERE order_id = @orderId AND i <= @after), 0)
         AND i < @upTo
       ORDER BY i`,
    );
  }

  async append(
    orderId: string,
    expectedVersion: number,
    events: StoredEventRecord[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    const commit = newCommit(orderId, expectedVersion, events);
    const snapshot = options?.snapshot
      ? JSON.stringify({ ...options.snapshot, version: commit.n } satisfies StreamSnapshot)
      : null;
    await new Promise<void>((resolve, reject) => {
      this.waitingAppends.push({
        write: () => this.appendTx(commit, expectedVersion, snapshot),
        resolve,
        reject,
      });
      if (!this.committing) void this.commitWaiting();
    });
    this.appended.notify();
    return { commit, version: commit.n };
  }

  /**
   * Group commit of concurrent appends: the appends that arrive while one transaction waits for the write lock
   * or runs are written together in the next, one lock and one WAL commit for all of them (32 HTTP commands in
   * flight took the lock 32 times, each handing it over to and back from the pipeline thread). Each commit is
   * still checked and written by itself: one refused by its expected version writes nothing and rejects
   * alone, the others of the group are written.
   */
  private async commitWaiting(): Promise<void> {
    this.committing = true;
    try {
      await this.commitGroups();
    } finally {
      this.committing = false;
    }
  }

  private async commitGroups(): Promise<void> {
    while (this.waitingAppends.length) {
      // Appends arriving while this group's transaction waits or runs wait for the next one.
      const group = this.waitingAppends;
      this.waitingAppends = [];
      let errors: unknown[];
      try {
        errors = await writeTransaction(this.db, () =>
          group.map(({ write }) => {
            try {
              write();
              return undefined;
            } catch (err) {
              // The version check runs before the commit's writes: a refused commit wrote nothing.
              if (err instanceof WrongExpectedVersionError) return err;
              throw err;
            }
          }),
        );
      } catch (err) {
        group.forEach((a) => a.reject(err));
        continue;
      }
      group.forEach((a, k) => (errors[k] === undefined ? a.resolve() : a.reject(errors[k])));
    }
  }

  /**
   * @see EventStore.appendCommits: the whole batch is one IMMEDIATE transaction (`writeTransaction`: the write
   * lock is waited for without blocking the thread), its documents serialized before it.
   */
  async appendCommits(batch: CommitRequest[]): Promise<CommitOutcome[]> {
    assertCommitBatch(batch);
    if (!this.bulkCheckpoints) {
      // A group commit writes megabytes at a time; checkpointing the WAL every 1,000 pages (SQLite's default)
      // costs a sync of the database file each time, about 2 s of a 12 s Olist import. A connection that
      // group-commits checkpoints every 16,384 pages (64 MB) instead; readers are not affected, and the WAL is
      // still checkpointed (and emptied when the last connection closes).
      this.db.exec(`PRAGMA wal_autocheckpoint = ${bulkCheckpointPages}`);
      this.bulkCheckpoints = true;
    }
    // Only a stream's last commit of the batch leaves its snapshot in the head: the others are not serialized.
    const last = new Map<string, number>();
    batch.forEach((c, k) => last.set(c.orderId, k));
    const items = batch.map(({ orderId, expectedVersion, events, options }, k): PreparedCommit => {
      const commit = newCommit(orderId, expectedVersion, events);
      const snapshot = () =>
        options?.snapshot
          ? JSON.stringify({ ...options.snapshot, version: commit.n } satisfies StreamSnapshot)
          : null;
      // The others' snapshot is serialized in the transaction only if their stream's last commit is refused.
      return {
        commit,
        expectedVersion,
        doc: JSON.stringify(commit),
        snapshot: last.get(orderId) === k ? snapshot() : snapshot,
      };
    });
    // The lock is waited for on a timer (the thread stays free), then held only for the writes.
    const outcomes = await writeTransaction(this.db, () => this.writeGroup(items));
    if (outcomes.some((o) => o.ok)) this.appended.notify();
    return outcomes;
  }

  async readHead(orderId: string): Promise<StreamHead | undefined> {
    const row = this.headRow.get(orderId) as { version: number; snapshot: string | null } | undefined;
    if (!row) return undefined;
    const snapshot = row.snapshot === null ? undefined : parseSnapshot(row.snapshot);
    return snapshot ? { version: row.version, snapshot } : { version: row.version };
  }

  async saveSnapshot(orderId: string, snapshot: StreamSnapshot): Promise<boolean> {
    const { schema, version, state } = snapshot;
    const json = JSON.stringify({ schema, version, state } satisfies StreamSnapshot);
    return (
      (await writeTransaction(this.db, () => this.saveSnapshotRow.run(json, orderId, version))).changes === 1
    );
  }

  async readEvents(orderId: string, after: number, limit: number): Promise<EventPage> {
    assertEventPage(after, limit);
    const head = this.versionRow.get(orderId) as { version: number } | undefined;
    if (!head || after >= head.version) return { version: head?.version ?? 0, events: [] };
    const upTo = Math.min(head.version, after + limit);
    const rows = this.pageRows.all({ orderId, after, upTo }) as { doc: string }[];
    const commits = rows.map((r) => JSON.parse(r.doc) as CommitDocument);
    return { version: head.version, events: eventsInRange(commits, after, upTo) };
  }

  async readStream(orderId: string, options?: ReadStreamOptions): Promise<StreamSlice> {
    const rows = this.streamRows.all(orderId) as { doc: string }[];
    const events = rows.flatMap((r) => eventsOfCommit(JSON.parse(r.doc) as CommitDocument));
    return sliceStream(events, options);
  }

  async readFeed(position: string | undefined, limit: number): Promise<FeedPage> {
    const after = position === undefined ? 0 : Number(position);
    const rows = this.feedRows.all(after, limit) as { position: number; doc: string }[];
    return {
      commits: rows.map((r) => JSON.parse(r.doc) as CommitDocument),
      position: String(rows.length ? rows[rows.length - 1].position : after),
    };
  }

  async readLatestCommits(limit: number): Promise<CommitDocument[]> {
    assertLatestLimit(limit);
    // Positions follow commit order, so the newest positions are the newest commits.
    const rows = this.db.prepare('SELECT doc FROM commits ORDER BY position DESC LIMIT ?').all(limit) as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as CommitDocument);
  }

  async activitySince(since: string): Promise<MinuteActivity[]> {
    assertSince(since);
    // Counted by minute in SQLite, from the covering index (commits_recorded_at_events) alone: after an import
    // the hour holds tens of thousands of commits, which the JSON of each took 0.5 s to read.
    const rows = this.db
      .prepare(
        `SELECT substr(recorded_at, 1, 16) || ':00.000Z' AS minute, COUNT(*) AS commits, SUM(n - i) AS events
         FROM commits WHERE recorded_at >= ? GROUP BY 1 ORDER BY 1`,
      )
      .all(new Date(Date.parse(since)).toISOString()) as MinuteActivity[];
    return rows.map(({ minute, commits, events }) => ({ minute, commits, events }));
  }

  async getCheckpoint(consumer: string): Promise<string | undefined> {
    const row = this.checkpointRow.get(consumer) as { position: string } | undefined;
    return row?.position;
  }

  async setCheckpoint(consumer: string, position: string): Promise<void> {
    await writeTransaction(this.db, () => this.upsertCheckpoint.run(consumer, position));
  }

  onAppended(listener: () => void): () => void {
    return this.appended.add(listener);
  }

  /** Closes the connection once the writes asked for on it have ended. */
  close(): Promise<void> {
    return closeDatabase(this.db);
  }
}

/** A snapshot column read back; anything that is not one (hand-edited, another writer's) reads as none. */
function parseSnapshot(json: string): StreamSnapshot | undefined {
  try {
    const s = JSON.parse(json) as Partial<StreamSnapshot> | null;
    if (s && typeof s.schema === 'string' && Number.isSafeInteger(s.version) && 'state' in s) {
      return { schema: s.schema, version: s.version!, state: s.state };
    }
  } catch {
    // not JSON: no snapshot
  }
  return undefined;
}

/**
 * Databases created before the head kept a snapshot have `streams (order_id, version)`: the column is added
 * once (an empty snapshot: those orders fold their events on their next command and keep the result). Two
 * processes opening the same old file may race here; the loser sees the column already there.
 */
/**
 * Commits written before the `recorded_at` column (a copy of the document's `recordedAt`, for
 * `activitySince`) get it, once; the index on it replaces the one on the JSON expression.
 */
function addRecordedAtColumn(db: SqliteDatabase): void {
  const columns = db.prepare('PRAGMA table_info(commits)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'recorded_at')) {
    try {
      db.exec('ALTER TABLE commits ADD COLUMN recorded_at TEXT');
    } catch (err) {
      if (!/duplicate column/i.test(String((err as Error).message))) throw err;
    }
  }
  db.exec(`UPDATE commits SET recorded_at = json_extract(doc, '$.recordedAt') WHERE recorded_at IS NULL;
    CREATE INDEX IF NOT EXISTS commits_recorded_at_events ON commits (recorded_at, n, i);
    DROP INDEX IF EXISTS commits_recorded_at;`);
}

function addSnapshotColumn(db: SqliteDatabase): void {
  const columns = db.prepare('PRAGMA table_info(streams)').all() as { name: string }[];
  if (columns.some((c) => c.name === 'snapshot')) return;
  try {
    db.exec('ALTER TABLE streams ADD COLUMN snapshot TEXT');
  } catch (err) {
    if (!/duplicate column/i.test(String((err as Error).message))) throw err;
  }
}
