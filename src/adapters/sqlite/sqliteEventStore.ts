import {
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
} from '../../ports/eventStore';
import { SqliteDatabase } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS commits (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL,
  i INTEGER NOT NULL,
  n INTEGER NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (order_id, i)
);
CREATE TABLE IF NOT EXISTS streams (order_id TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (consumer TEXT PRIMARY KEY, position TEXT NOT NULL);
`;

/**
 * Embedded event store on SQLite (libsql, prebuilt binaries). The `streams` row is the per-order head;
 * append checks and moves it in the same IMMEDIATE transaction as it inserts the commit, and
 * UNIQUE(order_id, i) backs that up, so no caller can create a gap or an overlap. The AUTOINCREMENT
 * `position` is the global feed order the local change feed follows. The same commit documents as on Cosmos DB
 * (docs/adr/0001-one-event-model-two-stores.md); the guard is docs/adr/0003-optimistic-concurrency.md.
 */
export class SqliteEventStore implements EventStore {
  private readonly appended: AppendListeners;

  private readonly appendTx;

  constructor(private readonly db: SqliteDatabase) {
    this.appended = AppendListeners.of(`sqlite:${db.location}`);
    db.exec(schema);
    const head = db.prepare('SELECT version FROM streams WHERE order_id = ?');
    const insertCommit = db.prepare('INSERT INTO commits (order_id, i, n, doc) VALUES (?, ?, ?, ?)');
    const upsertHead = db.prepare(
      'INSERT INTO streams (order_id, version) VALUES (?, ?) ON CONFLICT(order_id) DO UPDATE SET version = excluded.version',
    );
    this.appendTx = db
      .transaction((commit: CommitDocument, expectedVersion: number) => {
        const row = head.get(commit.orderId) as { version: number } | undefined;
        const actual = row?.version ?? 0;
        if (actual !== expectedVersion) {
          throw new WrongExpectedVersionError(commit.orderId, expectedVersion, actual);
        }
        insertCommit.run(commit.orderId, commit.i, commit.n, JSON.stringify(commit));
        upsertHead.run(commit.orderId, commit.n);
      })
      .immediate.bind(null);
  }

  async append(orderId: string, expectedVersion: number, events: StoredEventRecord[]): Promise<AppendResult> {
    const commit = newCommit(orderId, expectedVersion, events);
    this.appendTx(commit, expectedVersion);
    this.appended.notify();
    return { commit, version: commit.n };
  }

  async readStream(orderId: string, options?: ReadStreamOptions): Promise<StreamSlice> {
    const rows = this.db.prepare('SELECT doc FROM commits WHERE order_id = ? ORDER BY i').all(orderId) as {
      doc: string;
    }[];
    const events = rows.flatMap((r) => eventsOfCommit(JSON.parse(r.doc) as CommitDocument));
    return sliceStream(events, options);
  }

  async readFeed(position: string | undefined, limit: number): Promise<FeedPage> {
    const after = position === undefined ? 0 : Number(position);
    const rows = this.db
      .prepare('SELECT position, doc FROM commits WHERE position > ? ORDER BY position LIMIT ?')
      .all(after, limit) as { position: number; doc: string }[];
    return {
      commits: rows.map((r) => JSON.parse(r.doc) as CommitDocument),
      position: String(rows.length ? rows[rows.length - 1].position : after),
    };
  }

  async getCheckpoint(consumer: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT position FROM checkpoints WHERE consumer = ?').get(consumer) as
      { position: string } | undefined;
    return row?.position;
  }

  async setCheckpoint(consumer: string, position: string): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO checkpoints (consumer, position) VALUES (?, ?) ON CONFLICT(consumer) DO UPDATE SET position = excluded.position',
      )
      .run(consumer, position);
  }

  onAppended(listener: () => void): () => void {
    return this.appended.add(listener);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
