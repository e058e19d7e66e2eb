import { parse } from 'csv-parse';
import { createReadStream, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { catchUpReadModel, CatchUpResult } from '../app/catchUp';
import { replayHistories, ReplayResult } from '../app/history';
import { Services } from '../composition/services';
import { OrderCommand } from '../domain/decider';

export { recordedPrefix } from '../app/history';

/**
 * What every import of a source (Olist, UCI Online Retail) shares: reading CSV files, writing each order's
 * planned commands as history in group commits (skipping what the store already records), progress,
 * the summary and the read-model catch-up. A source only reads its files and plans its orders.
 */

/** The source folder or a file in it is missing or malformed; nothing was imported. */
export class ImportInputError extends Error {}

export interface ImportProgress {
  ordersDone: number;
  eventsAppended: number;
  elapsedSeconds: number;
  eventsPerSecond: number;
}

export interface ImportOptions {
  onProgress?: (progress: ImportProgress) => void;
  /** Progress is reported after every this many orders (default 1000). */
  progressEvery?: number;
  /**
   * Commands per group commit (default {@link defaultBatchCommands}): orders are taken whole until their
   * planned commands reach this, decided in memory, and their commits written in one transaction
   * (`replayHistories`). Larger batches amortize the transaction, smaller ones hold SQLite's write lock for
   * less time (a host beside the import waits that long at most for its own writes).
   */
  batchCommands?: number;
  /**
   * Fill the read model from the change feed after appending (default true); with `pauseMs`, in pages of
   * `batchCommands` commits with that pause between them.
   */
  catchUp?: boolean;
  /**
   * Milliseconds to pause after each group commit (default 0), so that a host sharing the database gets the
   * write lock between them: SQLite has one writer at a time, and a writer of another process kept waiting
   * retries only after a sleep (the host's `writeTransaction` up to 8 ms; SQLite's busy handler 1, 2, 5, 10,
   * 15 ms, ...), so a pause shorter than those is missed.
   */
  pauseMs?: number;
}

/**
 * Measured on the Olist sample (`npm run bench -- olist-import`, docs/performance.md): 1,000 commands (about
 * 170 orders) per transaction is as fast as larger batches, holding the lock for about 10 ms.
 */
export const defaultBatchCommands = 1000;

/** Anomalies the writing itself reports, whatever the source. */
export type WriteAnomaly = 'streamDiffers' | 'refusedCommands';

/** The counters every import reports; a source adds what it read. */
export interface ImportTotals<K extends string> {
  folder: string;
  /** Orders whose commands were sent (all but invalid rows and streams that differ). */
  ordersImported: number;
  /** Orders whose stream already held every event of the source: nothing sent (a re-run). */
  ordersAlreadyComplete: number;
  commandsSent: number;
  eventsAppended: number;
  /** Time to read the files and append, in seconds (without the read-model catch-up). */
  elapsedSeconds: number;
  eventsPerSecond: number;
  /** Group commits (transactions on SQLite) the import wrote. */
  groupCommits: number;
  readModel?: CatchUpResult;
  anomalies: Record<K, number>;
  /** The first few messages of refused commands, unreadable rows and differing streams. */
  problems: string[];
}

/** One source order as the commands that replay it (all `history: true`) and the anomalies it showed. */
export interface OrderPlan<K extends string> {
  orderId: string;
  commands: OrderCommand[];
  anomalies: K[];
}

const maxProblems = 10;

/** The totals before anything was read, every anomaly kind of `labels` at 0. */
export function emptyTotals<K extends string>(folder: string, labels: Record<K, string>): ImportTotals<K> {
  return {
    folder,
    ordersImported: 0,
    ordersAlreadyComplete: 0,
    commandsSent: 0,
    eventsAppended: 0,
    elapsedSeconds: 0,
    eventsPerSecond: 0,
    groupCommits: 0,
    anomalies: Object.fromEntries(Object.keys(labels).map((k) => [k, 0])) as Record<K, number>,
    problems: [],
  };
}

/** Counts one anomaly of `kind` and keeps its message among the first few problems. */
export function noteAnomaly<K extends string>(totals: ImportTotals<K>, kind: K, message?: string): void {
  totals.anomalies[kind]++;
  if (message && totals.problems.length < maxProblems) totals.problems.push(message);
}

/**
 * Writes the commands of every plan as history, each event marked with the actor `import:<source>` and the
 * order as correlation id, reporting progress; then catches the read model up (unless options.catchUp is
 * false). `started` is when the import began reading (performance.now()).
 *
 * Plans are taken in batches of about `options.batchCommands` commands; each batch is decided in memory and
 * written with one group commit (`replayHistories`: one transaction on SQLite, one commit per command with its
 * own metadata, refused commands reported). Between batches the event loop gets a turn, and `options.pauseMs`
 * leaves the write lock to a host sharing the database.
 *
 * Re-running is safe and appends nothing: for an order whose stream exists, the plan is replayed through the
 * decider in memory and compared with the stored events; only the commands after the stored prefix are
 * written (none for a complete order). This matters because AddProduct is additive and lifecycle commands
 * are idempotent only in their target state (accepting a delivered order is refused, not ignored). A
 * stream that disagrees with the source is left as it is and reported.
 */
export async function writePlans<K extends string>(
  source: string,
  plans: AsyncIterable<OrderPlan<K>>,
  services: Pick<Services, 'orders' | 'store' | 'readModel'>,
  totals: ImportTotals<NoInfer<K> | WriteAnomaly>,
  options: ImportOptions,
  started: number,
): Promise<void> {
  const progressEvery = options.progressEvery ?? 1000;
  const batchCommands = Math.max(1, options.batchCommands ?? defaultBatchCommands);
  const pauseMs = options.pauseMs ?? 0;
  const elapsed = () => (performance.now() - started) / 1000;
  const metadataOf = (orderId: string) => ({ actor: `import:${source}`, correlationId: orderId });
  let done = 0;
  for await (const batch of batches(plans, batchCommands)) {
    for (const plan of batch) for (const kind of plan.anomalies) noteAnomaly(totals, kind);
    const results = await replayHistories(
      services.orders,
      batch.map((p) => ({ orderId: p.orderId, commands: p.commands, metadata: metadataOf(p.orderId) })),
    );
    totals.groupCommits++;
    for (const [k, result] of results.entries()) {
      countResult(batch[k].orderId, result, totals);
      done++;
      if (options.onProgress && done % progressEvery === 0) {
        const s = elapsed();
        options.onProgress({
          ordersDone: done,
          eventsAppended: totals.eventsAppended,
          elapsedSeconds: s,
          eventsPerSecond: totals.eventsAppended / s,
        });
      }
    }
    // A turn of the event loop between transactions, and the lock left free for `pauseMs`.
    await (pauseMs > 0 ? delay(pauseMs) : new Promise((resolve) => setImmediate(resolve)));
  }
  totals.elapsedSeconds = elapsed();
  totals.eventsPerSecond = totals.elapsedSeconds > 0 ? totals.eventsAppended / totals.elapsedSeconds : 0;
  if (options.catchUp !== false) {
    // Sharing the database (a pause asked for), the catch-up writes pages of the batch's size with the same pause.
    const shared = pauseMs > 0 ? { pageSize: batchCommands, pauseMs } : {};
    totals.readModel = await catchUpReadModel(services, shared);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whole plans, in order, grouped until their commands reach `commands` (a larger plan goes alone). */
async function* batches<T extends { commands: unknown[] }>(
  plans: AsyncIterable<T>,
  commands: number,
): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let size = 0;
  for await (const plan of plans) {
    batch.push(plan);
    size += plan.commands.length;
    if (size >= commands) {
      yield batch;
      batch = [];
      size = 0;
    }
  }
  if (batch.length) yield batch;
}

function countResult<K extends string>(
  orderId: string,
  result: ReplayResult,
  totals: ImportTotals<K | WriteAnomaly>,
): void {
  if (result.outcome === 'differs') {
    noteAnomaly(
      totals,
      'streamDiffers',
      `order ${orderId}: the stored events (version ${result.storedVersion}) differ from the source`,
    );
    return;
  }
  totals.ordersImported++;
  if (result.outcome === 'alreadyPresent') totals.ordersAlreadyComplete++;
  totals.commandsSent += result.commandsSent;
  totals.eventsAppended += result.eventsAppended;
  for (const message of result.refused) noteAnomaly(totals, 'refusedCommands', message);
}

/**
 * Checks that `folder` is a folder holding `files`; `name` names the source in the message.
 * @throws ImportInputError naming what is missing
 */
export function checkSourceFolder(name: string, folder: string, files: readonly string[]): void {
  const dir = resolve(folder);
  const kind = (path: string) => {
    try {
      return statSync(path).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  };
  if (kind(dir) !== 'dir')
    throw new ImportInputError(`the ${name} folder ${dir} does not exist or is not a folder`);
  for (const file of files) {
    if (kind(join(dir, file)) !== 'file')
      throw new ImportInputError(`the ${name} folder ${dir} has no ${file}`);
  }
}

/** Stream-parses a CSV file with a header row into records, checking that `required` columns are present. */
export async function* readCsv<T>(path: string, required: readonly string[]): AsyncGenerator<T> {
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    columns: (header: string[]) => {
      const missing = required.filter((c) => !header.includes(c));
      if (missing.length) throw new ImportInputError(`${path} lacks the column(s) ${missing.join(', ')}`);
      return header;
    },
  });
  const input = createReadStream(path);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  for await (const record of parser) yield record as T;
}

/**
 * The summary as a readable block for the console: `title`, then `read` (what the source files held),
 * the shared counters and every anomaly kind of `labels` with its count.
 */
export function formatTotals<K extends string>(
  title: string,
  read: string,
  s: ImportTotals<K>,
  labels: Record<K, string>,
): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `${title} from ${s.folder}`,
    `  ${read}`,
    `  orders in the store    ${n(s.ordersImported)} (${n(s.ordersImported - s.ordersAlreadyComplete)} written now, ${n(s.ordersAlreadyComplete)} already complete)`,
    `  commands sent          ${n(s.commandsSent)}`,
    `  events appended        ${n(s.eventsAppended)}`,
    `  elapsed                ${s.elapsedSeconds.toFixed(1)} s (${n(Math.round(s.eventsPerSecond))} events/s)`,
  ];
  if (s.readModel) {
    lines.push(
      `  read model             ${n(s.readModel.commits)} commits read, ${n(s.readModel.applied)} applied, ` +
        `${n(s.readModel.skipped)} already applied, ${s.readModel.elapsedSeconds.toFixed(1)} s`,
    );
  }
  lines.push('  anomalies');
  const width = Math.max(...Object.keys(labels).map((k) => k.length));
  for (const [kind, label] of Object.entries(labels) as [K, string][]) {
    lines.push(`    ${kind.padEnd(width)} ${String(s.anomalies[kind]).padStart(6)}  ${label}`);
  }
  if (s.problems.length) {
    lines.push('  first problems');
    for (const p of s.problems) lines.push(`    ${p}`);
  }
  return lines.join('\n');
}
