import Database from 'libsql';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RetryOptionsWire } from './actions';
import { HistoryEvent } from './history';

type Db = InstanceType<typeof Database>;

/** Runtime statuses as the Durable Functions HTTP API names them. */
export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
export const terminalStatuses: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

/** One attempt of an activity called with retries. `rootId` is the task id of the first attempt. */
export interface RetryMeta {
  rootId: number;
  attempt: number;
  options: RetryOptionsWire;
  /** `currentUtcDateTime` when the first attempt was scheduled (the retry timeout counts from it). */
  firstAttemptAt: string;
  name: string;
  input?: string;
}

/** A timer the runtime created after a failed attempt, as DurableTask.Core's RetryInterceptor does. */
export interface RetryTimerMeta {
  rootId: number;
  failedAttempt: number;
  lastError: string;
  /** The retry timeout had passed: no attempt runs again; remaining ones fail at once (see docs/durable.md). */
  timedOut: boolean;
}

/** One piece of a timer longer than the maximum short timer; `rootId` is the task id of the first piece. */
export interface LongTimerMeta {
  rootId: number;
  finalFireAt: string;
}

/**
 * What the runtime knows about a scheduling event beyond the history the library sees. `action`: the
 * event answers the orchestrator's action number `index` (the determinism check compares those).
 */
export type EventMeta =
  | { origin: 'action'; index: number; retry?: RetryMeta; longTimer?: LongTimerMeta }
  | { origin: 'retry-attempt'; retry: RetryMeta; synthetic?: boolean }
  | { origin: 'retry-timer'; retryTimer: RetryTimerMeta }
  | { origin: 'long-timer'; longTimer: LongTimerMeta };

export interface StoredEvent {
  event: HistoryEvent;
  meta?: EventMeta;
}

export interface InstanceRow {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  /** JSON texts, or null. */
  input: string | null;
  output: string | null;
  customStatus: string | null;
  createdTime: string;
  lastUpdatedTime: string;
}

export interface InboxMessage {
  id: number;
  instanceId: string;
  executionId: string;
  event: HistoryEvent;
}

export interface TimerRow {
  instanceId: string;
  executionId: string;
  timerId: number;
  rootId: number;
  fireAt: string;
}

export interface ActivityRun {
  id: number;
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  startedAt: string;
  finishedAt: string | null;
  outcome: 'completed' | 'failed' | null;
}

export interface EpisodeWrite {
  instanceId: string;
  executionId: string;
  /** The inbox message this episode consumed. */
  consumed: number;
  events: StoredEvent[];
  status: RuntimeStatus;
  output?: string | null;
  customStatus: string | null;
  at: string;
  newTimers: Omit<TimerRow, 'instanceId' | 'executionId'>[];
  /** Timer ids (roots) whose action the orchestrator canceled: their pending pieces are dropped. */
  canceledTimerRoots: number[];
  /** Follow-up messages the runtime itself owes the instance (e.g. a failed attempt after the retry timeout). */
  enqueue: HistoryEvent[];
}

const schema = `
CREATE TABLE IF NOT EXISTS durable_instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  runtime_status TEXT NOT NULL,
  input TEXT,
  output TEXT,
  custom_status TEXT,
  created_time TEXT NOT NULL,
  last_updated_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS durable_history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  meta TEXT,
  PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS durable_inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS durable_inbox_instance ON durable_inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS durable_timers (
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  timer_id INTEGER NOT NULL,
  root_id INTEGER NOT NULL,
  fire_at TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'canceled')),
  PRIMARY KEY (instance_id, timer_id)
);
CREATE TABLE IF NOT EXISTS durable_activity_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  outcome TEXT
);
CREATE TABLE IF NOT EXISTS durable_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

interface InstanceDbRow {
  instance_id: string;
  name: string;
  execution_id: string;
  runtime_status: RuntimeStatus;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  created_time: string;
  last_updated_time: string;
}

const toInstance = (r: InstanceDbRow): InstanceRow => ({
  instanceId: r.instance_id,
  name: r.name,
  executionId: r.execution_id,
  runtimeStatus: r.runtime_status,
  input: r.input,
  output: r.output,
  customStatus: r.custom_status,
  createdTime: r.created_time,
  lastUpdatedTime: r.last_updated_time,
});

/** The file the local durable runtime keeps its task hub in, under DATA_DIR. */
export const durableDbFile = 'durable.db';

/**
 * The local task hub: instances, their histories, their inboxes (messages not yet given to the
 * orchestrator), durable timers, an append-only log of activity executions, and a few settings (the
 * manual clock's offset). One SQLite file, `durable.db` under DATA_DIR, in WAL mode: every write that
 * matters is one transaction, so a process killed at any point leaves a consistent hub behind.
 */
export class DurableStore {
  private readonly db: Db;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, durableDbFile), { timeout: 10_000 });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA busy_timeout = 10000');
    this.db.exec(schema);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Creates an instance with its ExecutionStarted message, unless one with this id is Pending or Running.
   * A Completed, Failed or Terminated instance is replaced (the extension's default
   * `overridableExistingInstanceStates`).
   */
  createInstance(
    row: Omit<InstanceRow, 'output' | 'customStatus'>,
    started: HistoryEvent,
  ): 'created' | 'exists' {
    return this.db
      .transaction(() => {
        const existing = this.getInstance(row.instanceId);
        if (existing && !terminalStatuses.has(existing.runtimeStatus)) return 'exists' as const;
        if (existing) this.deleteInstance(row.instanceId);
        this.db
          .prepare(
            `INSERT INTO durable_instances (instance_id, name, execution_id, runtime_status, input, output, custom_status, created_time, last_updated_time)
             VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)`,
          )
          .run(
            row.instanceId,
            row.name,
            row.executionId,
            row.runtimeStatus,
            row.input,
            row.createdTime,
            row.lastUpdatedTime,
          );
        this.insertInbox(row.instanceId, row.executionId, started);
        return 'created' as const;
      })
      .immediate();
  }

  getInstance(instanceId: string): InstanceRow | undefined {
    const r = this.db.prepare('SELECT * FROM durable_instances WHERE instance_id = ?').get(instanceId) as
      InstanceDbRow | undefined;
    return r ? toInstance(r) : undefined;
  }

  listInstances(filter: {
    statuses?: RuntimeStatus[];
    createdFrom?: string;
    createdTo?: string;
    prefix?: string;
  }): InstanceRow[] {
    const rows = this.db
      .prepare('SELECT * FROM durable_instances ORDER BY created_time, instance_id')
      .all() as InstanceDbRow[];
    return rows
      .map(toInstance)
      .filter(
        (r) =>
          (!filter.statuses?.length || filter.statuses.includes(r.runtimeStatus)) &&
          (!filter.createdFrom || r.createdTime >= filter.createdFrom) &&
          (!filter.createdTo || r.createdTime <= filter.createdTo) &&
          (!filter.prefix || r.instanceId.startsWith(filter.prefix)),
      );
  }

  /** Instances that are neither completed, failed nor terminated. */
  activeInstances(): InstanceRow[] {
    return this.listInstances({ statuses: ['Pending', 'Running'] });
  }

  history(instanceId: string): StoredEvent[] {
    const rows = this.db
      .prepare('SELECT event, meta FROM durable_history WHERE instance_id = ? ORDER BY seq')
      .all(instanceId) as { event: string; meta: string | null }[];
    return rows.map((r) => ({
      event: JSON.parse(r.event) as HistoryEvent,
      ...(r.meta ? { meta: JSON.parse(r.meta) as EventMeta } : {}),
    }));
  }

  nextMessage(instanceId: string): InboxMessage | undefined {
    const r = this.db
      .prepare(
        'SELECT id, instance_id, execution_id, event FROM durable_inbox WHERE instance_id = ? ORDER BY id LIMIT 1',
      )
      .get(instanceId) as
      { id: number; instance_id: string; execution_id: string; event: string } | undefined;
    return r
      ? {
          id: r.id,
          instanceId: r.instance_id,
          executionId: r.execution_id,
          event: JSON.parse(r.event) as HistoryEvent,
        }
      : undefined;
  }

  messages(instanceId: string): InboxMessage[] {
    const rows = this.db
      .prepare(
        'SELECT id, instance_id, execution_id, event FROM durable_inbox WHERE instance_id = ? ORDER BY id',
      )
      .all(instanceId) as { id: number; instance_id: string; execution_id: string; event: string }[];
    return rows.map((r) => ({
      id: r.id,
      instanceId: r.instance_id,
      executionId: r.execution_id,
      event: JSON.parse(r.event) as HistoryEvent,
    }));
  }

  /** Instance ids with at least one message waiting. */
  instancesWithMessages(): string[] {
    return (
      this.db.prepare('SELECT DISTINCT instance_id FROM durable_inbox').all() as { instance_id: string }[]
    ).map((r) => r.instance_id);
  }

  /** Adds a message for a Pending or Running instance of that execution; false when there is none. */
  enqueue(instanceId: string, executionId: string, event: HistoryEvent): boolean {
    return this.db
      .transaction(() => {
        const inst = this.getInstance(instanceId);
        if (!inst || inst.executionId !== executionId || terminalStatuses.has(inst.runtimeStatus))
          return false;
        this.insertInbox(instanceId, executionId, event);
        return true;
      })
      .immediate();
  }

  /**
   * Writes one episode: new history, the consumed message gone, status, timers and follow-ups; all or
   * nothing. False (nothing written) when the instance was terminated, purged or restarted meanwhile.
   */
  writeEpisode(w: EpisodeWrite): boolean {
    return this.db
      .transaction(() => {
        const inst = this.getInstance(w.instanceId);
        if (!inst || inst.executionId !== w.executionId || terminalStatuses.has(inst.runtimeStatus))
          return false;
        const { next } = this.db
          .prepare('SELECT COALESCE(MAX(seq), -1) + 1 AS next FROM durable_history WHERE instance_id = ?')
          .get(w.instanceId) as { next: number };
        const insert = this.db.prepare(
          'INSERT INTO durable_history (instance_id, seq, event, meta) VALUES (?, ?, ?, ?)',
        );
        w.events.forEach((e, k) =>
          insert.run(w.instanceId, next + k, JSON.stringify(e.event), e.meta ? JSON.stringify(e.meta) : null),
        );
        this.db.prepare('DELETE FROM durable_inbox WHERE id = ?').run(w.consumed);
        const terminal = terminalStatuses.has(w.status);
        this.db
          .prepare(
            `UPDATE durable_instances SET runtime_status = ?, custom_status = ?, last_updated_time = ?,
             output = CASE WHEN ? THEN ? ELSE output END WHERE instance_id = ?`,
          )
          .run(
            w.status,
            w.customStatus,
            w.at,
            w.output !== undefined ? 1 : 0,
            w.output ?? null,
            w.instanceId,
          );
        const addTimer = this.db.prepare(
          `INSERT INTO durable_timers (instance_id, execution_id, timer_id, root_id, fire_at, state) VALUES (?, ?, ?, ?, ?, 'pending')`,
        );
        for (const t of w.newTimers) addTimer.run(w.instanceId, w.executionId, t.timerId, t.rootId, t.fireAt);
        const cancel = this.db.prepare(
          "UPDATE durable_timers SET state = 'canceled' WHERE instance_id = ? AND root_id = ? AND state = 'pending'",
        );
        for (const root of w.canceledTimerRoots) cancel.run(w.instanceId, root);
        if (terminal) {
          this.db.prepare('DELETE FROM durable_inbox WHERE instance_id = ?').run(w.instanceId);
          this.db
            .prepare(
              "UPDATE durable_timers SET state = 'canceled' WHERE instance_id = ? AND state = 'pending'",
            )
            .run(w.instanceId);
        } else {
          for (const e of w.enqueue) this.insertInbox(w.instanceId, w.executionId, e);
        }
        return true;
      })
      .immediate();
  }

  /** Drops a message that no longer belongs to the instance (another execution, or a finished instance). */
  dropMessage(id: number): void {
    this.db.prepare('DELETE FROM durable_inbox WHERE id = ?').run(id);
  }

  /** Moves a due timer to fired and queues its TimerFired message, unless it was canceled or already fired. */
  fireTimer(instanceId: string, timerId: number, fired: HistoryEvent): boolean {
    return this.db
      .transaction(() => {
        const row = this.db
          .prepare(
            "SELECT execution_id FROM durable_timers WHERE instance_id = ? AND timer_id = ? AND state = 'pending'",
          )
          .get(instanceId, timerId) as { execution_id: string } | undefined;
        if (!row) return false;
        this.db
          .prepare("UPDATE durable_timers SET state = 'fired' WHERE instance_id = ? AND timer_id = ?")
          .run(instanceId, timerId);
        const inst = this.getInstance(instanceId);
        if (!inst || inst.executionId !== row.execution_id || terminalStatuses.has(inst.runtimeStatus))
          return false;
        this.insertInbox(instanceId, row.execution_id, fired);
        return true;
      })
      .immediate();
  }

  pendingTimers(): TimerRow[] {
    const rows = this.db
      .prepare(
        "SELECT instance_id, execution_id, timer_id, root_id, fire_at FROM durable_timers WHERE state = 'pending'",
      )
      .all() as {
      instance_id: string;
      execution_id: string;
      timer_id: number;
      root_id: number;
      fire_at: string;
    }[];
    return rows.map((r) => ({
      instanceId: r.instance_id,
      executionId: r.execution_id,
      timerId: r.timer_id,
      rootId: r.root_id,
      fireAt: r.fire_at,
    }));
  }

  /** Logs the start of an activity execution; returns the log row id. */
  activityStarted(instanceId: string, executionId: string, taskId: number, name: string, at: string): number {
    const r = this.db
      .prepare(
        'INSERT INTO durable_activity_runs (instance_id, execution_id, task_id, name, started_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
      )
      .get(instanceId, executionId, taskId, name, at) as { id: number };
    return r.id;
  }

  /** Logs the end of an activity execution and queues its result for the instance, in one transaction. */
  activityFinished(
    runId: number,
    outcome: 'completed' | 'failed',
    at: string,
    result: InboxMessage | undefined,
  ): void {
    this.db
      .transaction(() => {
        this.db
          .prepare('UPDATE durable_activity_runs SET finished_at = ?, outcome = ? WHERE id = ?')
          .run(at, outcome, runId);
        if (!result) return;
        const inst = this.getInstance(result.instanceId);
        if (!inst || inst.executionId !== result.executionId || terminalStatuses.has(inst.runtimeStatus))
          return;
        this.insertInbox(result.instanceId, result.executionId, result.event);
      })
      .immediate();
  }

  activityRuns(instanceId?: string): ActivityRun[] {
    const rows = (
      instanceId
        ? this.db
            .prepare('SELECT * FROM durable_activity_runs WHERE instance_id = ? ORDER BY id')
            .all(instanceId)
        : this.db.prepare('SELECT * FROM durable_activity_runs ORDER BY id').all()
    ) as {
      id: number;
      instance_id: string;
      execution_id: string;
      task_id: number;
      name: string;
      started_at: string;
      finished_at: string | null;
      outcome: 'completed' | 'failed' | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      instanceId: r.instance_id,
      executionId: r.execution_id,
      taskId: r.task_id,
      name: r.name,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      outcome: r.outcome,
    }));
  }

  /** Terminates a Pending or Running instance at once: ExecutionTerminated, status, no further messages. */
  terminate(instanceId: string, reason: string, at: Date): 'terminated' | 'not-found' | 'gone' {
    return this.db
      .transaction(() => {
        const inst = this.getInstance(instanceId);
        if (!inst) return 'not-found' as const;
        if (terminalStatuses.has(inst.runtimeStatus)) return 'gone' as const;
        const { next } = this.db
          .prepare('SELECT COALESCE(MAX(seq), -1) + 1 AS next FROM durable_history WHERE instance_id = ?')
          .get(instanceId) as { next: number };
        const ev = {
          EventType: 3,
          EventId: -1,
          Timestamp: at.toISOString(),
          IsPlayed: false,
          Input: JSON.stringify(reason),
        };
        this.db
          .prepare('INSERT INTO durable_history (instance_id, seq, event, meta) VALUES (?, ?, ?, NULL)')
          .run(instanceId, next, JSON.stringify(ev));
        this.db
          .prepare(
            "UPDATE durable_instances SET runtime_status = 'Terminated', output = ?, last_updated_time = ? WHERE instance_id = ?",
          )
          .run(JSON.stringify(reason), at.toISOString(), instanceId);
        this.db.prepare('DELETE FROM durable_inbox WHERE instance_id = ?').run(instanceId);
        this.db
          .prepare("UPDATE durable_timers SET state = 'canceled' WHERE instance_id = ? AND state = 'pending'")
          .run(instanceId);
        return 'terminated' as const;
      })
      .immediate();
  }

  /** Deletes a finished instance and everything it left; `not-found`, or `running` when it is not finished. */
  purge(instanceId: string): 'purged' | 'not-found' | 'running' {
    return this.db
      .transaction(() => {
        const inst = this.getInstance(instanceId);
        if (!inst) return 'not-found' as const;
        if (!terminalStatuses.has(inst.runtimeStatus)) return 'running' as const;
        this.deleteInstance(instanceId);
        return 'purged' as const;
      })
      .immediate();
  }

  getSetting(key: string): string | undefined {
    return (
      this.db.prepare('SELECT value FROM durable_kv WHERE key = ?').get(key) as { value: string } | undefined
    )?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO durable_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  private insertInbox(instanceId: string, executionId: string, event: HistoryEvent): void {
    this.db
      .prepare('INSERT INTO durable_inbox (instance_id, execution_id, event) VALUES (?, ?, ?)')
      .run(instanceId, executionId, JSON.stringify(event));
  }

  private deleteInstance(instanceId: string): void {
    for (const table of ['durable_history', 'durable_inbox', 'durable_timers', 'durable_instances']) {
      this.db.prepare(`DELETE FROM ${table} WHERE instance_id = ?`).run(instanceId);
    }
  }
}
