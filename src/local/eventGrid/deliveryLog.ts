import { SqliteDatabase } from '../../adapters/sqlite/database';
import { placeholders, rowBatches } from './rowBatches';

/**
 * What became of one delivery attempt: `delivered` (a function returned, or a webhook answered 200-204),
 * `retrying` (it failed and is queued for its next attempt), `deadLettered` (it failed for the last time and
 * was written to the dead-letter store), `dropped` (its subscription no longer exists; nothing was sent).
 */
export const deliveryOutcomes = ['delivered', 'retrying', 'deadLettered', 'dropped'] as const;
export type DeliveryOutcome = (typeof deliveryOutcomes)[number];

/** One attempt to deliver one event to one subscription, as the delivery log keeps it. */
export interface DeliveryAttempt {
  /** `function-<name>` for an eventGrid-trigger function, the webhook's name otherwise. */
  subscription: string;
  /** The CloudEvent `id`. */
  eventId: string;
  /** The CloudEvent `type`. */
  type: string;
  /** The CloudEvent `subject` (`orders/{orderId}`); null when the event has none. */
  subject: string | null;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: DeliveryOutcome;
  /** The webhook's HTTP status, when it answered; never for a function. */
  status?: number;
  /** Why the attempt failed (at most {@link maxErrorChars} characters); absent when delivered. */
  error?: string;
  /** When the outcome was known, in ms since the Unix epoch. */
  at: number;
}

/** Per subscription, over a time window: attempts that delivered, and attempts that failed. */
export interface AttemptCounts {
  delivered: number;
  /** Attempts that did not deliver: `retrying` and `deadLettered` outcomes (not `dropped`: nothing was sent). */
  failedAttempts: number;
}

export interface DeliveryLogOptions {
  /** Rows kept: the newest `maxRows` (default 20,000). */
  maxRows?: number;
  /** The log is trimmed back to `maxRows` once every `trimEvery` inserts (default 500), and when opened. */
  trimEvery?: number;
}

/** Longest error text kept per attempt, in characters. */
export const maxErrorChars = 500;

const schema = `
CREATE TABLE IF NOT EXISTS eventgrid_delivery_log (
  log_id INTEGER PRIMARY KEY,
  subscription TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  subject TEXT,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  status INTEGER,
  error TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS eventgrid_delivery_log_subject ON eventgrid_delivery_log (subject, log_id);
CREATE INDEX IF NOT EXISTS eventgrid_delivery_log_outcomes
  ON eventgrid_delivery_log (subscription, outcome, at);
`;

interface Row {
  subscription: string;
  eventId: string;
  type: string;
  subject: string | null;
  attempt: number;
  outcome: DeliveryOutcome;
  status: number | null;
  error: string | null;
  at: number;
}

/**
 * The local topic's delivery log: one row per delivery attempt and its outcome, in a table beside the
 * delivery queue (`DATA_DIR/eventgrid.db`, the same connection), for the local-only routes that stand in for
 * Event Grid's delivery metrics. Bounded: the newest {@link DeliveryLogOptions.maxRows} rows are kept, the
 * older ones deleted in one range delete on the rowid every {@link DeliveryLogOptions.trimEvery} inserts, so
 * between two trims it holds up to `maxRows + trimEvery - 1` rows. Indexed by subject (then newest first),
 * and by subscription, outcome and time, which covers the counts of {@link countsSince} (a full log counts in
 * about 1 ms instead of 7 on our machines).
 *
 * Rows are numbered in insertion order (`log_id`, the rowid: only the oldest are ever deleted, so a new row's
 * id is always above every other), and "newest" means inserted last, whatever the wall clock did.
 */
export class DeliveryLog {
  private readonly insertMany;
  private readonly maxRows: number;
  private readonly trimEvery: number;
  private sinceTrim = 0;

  constructor(
    private readonly db: SqliteDatabase,
    options: DeliveryLogOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 20_000;
    this.trimEvery = options.trimEvery ?? 500;
    db.exec(schema);
    const sql = (n: number) =>
      `INSERT INTO eventgrid_delivery_log
         (subscription, event_id, event_type, subject, attempt, outcome, status, error, at)
       VALUES ${placeholders(n, 9)}`;
    const params = (a: DeliveryAttempt, into: unknown[]) =>
      into.push(
        a.subscription,
        a.eventId,
        a.type,
        a.subject,
        a.attempt,
        a.outcome,
        a.status ?? null,
        a.error === undefined ? null : a.error.slice(0, maxErrorChars),
        a.at,
      );
    this.insertMany = rowBatches(db, sql, params);
    this.trim();
  }

  /** Appends one attempt (one insert); every `trimEvery` appends, also deletes the rows past `maxRows`. */
  record(a: DeliveryAttempt): void {
    this.recordMany([a]);
  }

  /**
   * Appends attempts in order, in statements of many rows (call it in a transaction); trims as
   * {@link record} does, once the rows are in.
   */
  recordMany(attempts: readonly DeliveryAttempt[]): void {
    this.insertMany.run(attempts);
    this.sinceTrim += attempts.length;
    if (this.sinceTrim >= this.trimEvery) this.trim();
  }

  /** Deletes every row but the newest `maxRows`. */
  trim(): void {
    this.sinceTrim = 0;
    const { newest } = this.db.prepare('SELECT max(log_id) AS newest FROM eventgrid_delivery_log').get() as {
      newest: number | null;
    };
    if (newest !== null && newest > this.maxRows) {
      this.db.prepare('DELETE FROM eventgrid_delivery_log WHERE log_id <= ?').run(newest - this.maxRows);
    }
  }

  /** The attempts of the events of `subject`, newest first, at most `limit`. */
  bySubject(subject: string, limit: number): DeliveryAttempt[] {
    const rows = this.db
      .prepare(
        `SELECT subscription, event_id AS eventId, event_type AS type, subject, attempt, outcome, status, error, at
         FROM eventgrid_delivery_log WHERE subject = ? ORDER BY log_id DESC LIMIT ?`,
      )
      .all(subject, limit) as Row[];
    return rows.map(({ status, error, ...row }) => ({
      ...row,
      ...(status !== null ? { status } : {}),
      ...(error !== null ? { error } : {}),
    }));
  }

  /** Attempts whose outcome was known at or after `since` (ms since the epoch), by subscription. */
  countsSince(since: number): Map<string, AttemptCounts> {
    const rows = this.db
      .prepare(
        `SELECT subscription, outcome, count(*) AS n
         FROM eventgrid_delivery_log WHERE at >= ? GROUP BY subscription, outcome`,
      )
      .all(since) as { subscription: string; outcome: DeliveryOutcome; n: number }[];
    const counts = new Map<string, AttemptCounts>();
    for (const { subscription, outcome, n } of rows) {
      let c = counts.get(subscription);
      if (!c) counts.set(subscription, (c = { delivered: 0, failedAttempts: 0 }));
      if (outcome === 'delivered') c.delivered += n;
      else if (outcome === 'retrying' || outcome === 'deadLettered') c.failedAttempts += n;
    }
    return counts;
  }

  /** How many rows the log holds. */
  size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM eventgrid_delivery_log').get() as { n: number }).n;
  }
}
