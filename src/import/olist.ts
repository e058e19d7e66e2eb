import { parse } from 'csv-parse';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { catchUpReadModel, CatchUpResult } from '../app/catchUp';
import { toDomainEvent } from '../app/orderService';
import { Services } from '../composition/services';
import { decide, DomainError, evolve, initialState, OrderCommand } from '../domain/decider';
import { OrderEvent } from '../domain/events';
import { RecordedEvent } from '../ports/eventStore';
import {
  AnomalyKind,
  anomalyLabels,
  itemColumns,
  noAnomalies,
  customerColumns,
  OlistCustomerRow,
  OlistItemRow,
  OlistOrderRow,
  OlistRowError,
  orderColumns,
  PlannedOrder,
  planOrder,
} from './olistPlan';

export const olistFiles = {
  orders: 'olist_orders_dataset.csv',
  items: 'olist_order_items_dataset.csv',
} as const;

/**
 * Read when present: the customer's state (`customer_state`, a Brazilian UF such as "SP") goes on OrderCreated
 * as `customerState`, for funnels by customer state. A folder without it imports as before.
 */
export const olistCustomersFile = 'olist_customers_dataset.csv';

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
   * Orders in flight at once (default 1). Measured on the embedded SQLite store, whose driver is
   * synchronous: 8 in flight was slightly slower than 1 (about 5,400 against 5,550 events/s on 2 cores;
   * `npm run bench` measures both), and one at a time keeps an order's commits together in the feed.
   */
  concurrency?: number;
  /** Fill the read model from the change feed after appending (default true). */
  catchUp?: boolean;
  /**
   * Milliseconds to pause after each order (default 0). SQLite has one writer at a time and the driver
   * waits for the lock synchronously, so a host sharing the database stalls while the import writes
   * without a break; 1 ms per order kept a running host's answers under a second (36 s without),
   * at about half the import speed.
   */
  pauseMs?: number;
}

export interface ImportSummary {
  source: 'olist';
  folder: string;
  /** Order rows read. */
  orders: number;
  itemRows: number;
  /** Orders whose commands were sent (all but invalid rows and streams that differ). */
  ordersImported: number;
  /** Orders whose stream already held every event of the source: nothing sent (a re-run). */
  ordersAlreadyComplete: number;
  commandsSent: number;
  eventsAppended: number;
  /** Time to read the files and append, in seconds (without the read-model catch-up). */
  elapsedSeconds: number;
  eventsPerSecond: number;
  concurrency: number;
  readModel?: CatchUpResult;
  anomalies: Record<AnomalyKind, number>;
  /** The first few messages of refused commands, unreadable rows and differing streams. */
  problems: string[];
}

const maxProblems = 10;

/** Each imported event names the import as its actor and the order as its correlation id. */
const metadataFor = (orderId: string) => ({ actor: 'import:olist', correlationId: orderId });

/**
 * Imports the Olist sample in `folder` (olist_orders_dataset.csv, olist_order_items_dataset.csv): every
 * order becomes the commands `planOrder` derives from it, handled by `services.orders.handle`, then the
 * read model is caught up from the change feed (catchUpReadModel).
 *
 * The commands run in process through the same OrderService every writer uses (HTTP functions,
 * orchestration activities): same decider, same optimistic concurrency, same event metadata, without
 * ~100k HTTP round trips.
 *
 * Re-running is safe and appends nothing: for an order whose stream exists, the plan is replayed through
 * the decider in memory and compared with the stored events; only the commands after the stored prefix
 * are sent (none for a complete order). This matters because AddProduct is additive and lifecycle commands
 * are idempotent only in their target state (accepting a delivered order is refused, not ignored). A
 * stream that disagrees with the source is left as it is and reported.
 * @throws ImportInputError when the folder or a file is missing or lacks a column
 */
export async function importOlist(
  folder: string,
  services: Pick<Services, 'orders' | 'store' | 'readModel'>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const dir = resolve(folder);
  checkOlistFolder(dir);
  const started = performance.now();
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const progressEvery = options.progressEvery ?? 1000;
  const summary: ImportSummary = {
    source: 'olist',
    folder: dir,
    orders: 0,
    itemRows: 0,
    ordersImported: 0,
    ordersAlreadyComplete: 0,
    commandsSent: 0,
    eventsAppended: 0,
    elapsedSeconds: 0,
    eventsPerSecond: 0,
    concurrency,
    anomalies: noAnomalies(),
    problems: [],
  };
  const note = (kind: AnomalyKind, message?: string) => {
    summary.anomalies[kind]++;
    if (message && summary.problems.length < maxProblems) summary.problems.push(message);
  };
  const elapsed = () => (performance.now() - started) / 1000;

  // Items first (17k rows, small), grouped by order; then the orders file is streamed.
  const itemsByOrder = new Map<string, OlistItemRow[]>();
  for await (const item of readCsv<OlistItemRow>(join(dir, olistFiles.items), itemColumns)) {
    summary.itemRows++;
    const list = itemsByOrder.get(item.order_id);
    if (list) list.push(item);
    else itemsByOrder.set(item.order_id, [item]);
  }

  // Customer states (15k rows, small), by customer id; a state that is not a region code is left out.
  const stateOfCustomer = new Map<string, string>();
  if (existsSync(join(dir, olistCustomersFile))) {
    for await (const c of readCsv<OlistCustomerRow>(join(dir, olistCustomersFile), customerColumns)) {
      const state = c.customer_state.trim();
      if (/^[A-Za-z0-9-]{1,16}$/.test(state)) stateOfCustomer.set(c.customer_id, state);
    }
  }

  async function* plans(): AsyncGenerator<PlannedOrder> {
    for await (const row of readCsv<OlistOrderRow>(join(dir, olistFiles.orders), orderColumns)) {
      summary.orders++;
      const items = itemsByOrder.get(row.order_id) ?? [];
      itemsByOrder.delete(row.order_id);
      try {
        yield planOrder(row, items, stateOfCustomer.get(row.customer_id));
      } catch (err) {
        if (!(err instanceof OlistRowError)) throw err;
        note('invalidRow', err.message);
      }
    }
  }

  let done = 0;
  await forEachConcurrently(
    plans(),
    concurrency,
    async (plan) => {
      for (const kind of plan.anomalies) note(kind);
      await importOrder(plan, services, summary, note);
      done++;
      if (options.onProgress && done % progressEvery === 0) {
        const s = elapsed();
        options.onProgress({
          ordersDone: done,
          eventsAppended: summary.eventsAppended,
          elapsedSeconds: s,
          eventsPerSecond: summary.eventsAppended / s,
        });
      }
    },
    options.pauseMs ?? 0,
  );
  for (const [orderId, rows] of itemsByOrder) {
    note('itemsWithoutOrder', `${rows.length} item row(s) of order ${orderId}, which the orders file lacks`);
    summary.anomalies.itemsWithoutOrder += rows.length - 1;
  }
  summary.elapsedSeconds = elapsed();
  summary.eventsPerSecond = summary.elapsedSeconds > 0 ? summary.eventsAppended / summary.elapsedSeconds : 0;
  if (options.catchUp !== false) summary.readModel = await catchUpReadModel(services);
  return summary;
}

async function importOrder(
  plan: PlannedOrder,
  services: Pick<Services, 'orders'>,
  summary: ImportSummary,
  note: (kind: AnomalyKind, message?: string) => void,
): Promise<void> {
  const { orderId, commands } = plan;
  const loaded = await services.orders.load(orderId);
  let from = 0;
  if (loaded.version > 0) {
    const recorded = recordedPrefix(commands, loaded.events);
    if (recorded === undefined) {
      note(
        'streamDiffers',
        `order ${orderId}: the stored events (version ${loaded.version}) differ from the source`,
      );
      return;
    }
    from = recorded;
    if (from === commands.length) summary.ordersAlreadyComplete++;
  }
  summary.ordersImported++;
  const metadata = metadataFor(orderId);
  for (const command of commands.slice(from)) {
    try {
      const result = await services.orders.handle(orderId, command, { metadata });
      summary.commandsSent++;
      summary.eventsAppended += result.appended.length;
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      summary.commandsSent++;
      note('refusedCommands', `order ${orderId}: ${command.type} refused (${err.kind}): ${err.message}`);
    }
  }
}

/**
 * How many of `commands` the stored events already record: the plan is run through the decider from the
 * initial state and each command's events are compared with the stored ones at the same versions. Returns
 * the index of the first command not yet recorded (commands.length when all are), or undefined when the
 * stored events differ from what the commands produce.
 */
export function recordedPrefix(commands: OrderCommand[], stored: RecordedEvent[]): number | undefined {
  let state = initialState();
  let version = 0;
  for (let k = 0; k < commands.length; k++) {
    if (version >= stored.length) return k;
    let events;
    try {
      events = decide(commands[k], state);
    } catch (err) {
      if (err instanceof DomainError) continue; // refused then as now: it recorded nothing
      throw err;
    }
    for (const event of events) {
      const have = stored[version];
      if (!have) return undefined; // the stream ends inside this command's commit
      const was = toDomainEvent(have);
      if (was.type !== event.type || was.occurredAt !== event.occurredAt) return undefined;
      if (JSON.stringify(was.data) !== JSON.stringify(withoutNewFields(was, event).data)) return undefined;
      state = evolve(state, event);
      version++;
    }
  }
  return commands.length;
}

/**
 * The planned event without the fields a store imported before they existed cannot have: an OrderCreated
 * stored without `customerState` (imported before the import read olist_customers_dataset.csv) still records
 * the order; events are never rewritten, so the stored one stays as it is.
 */
function withoutNewFields(stored: OrderEvent, planned: OrderEvent): OrderEvent {
  if (planned.type !== 'OrderCreated' || stored.type !== 'OrderCreated') return planned;
  if (stored.data.customerState !== undefined || planned.data.customerState === undefined) return planned;
  const { customerState: _absentWhenStored, ...data } = planned.data;
  return { ...planned, data };
}

/**
 * Checks that `folder` holds the Olist files the import reads.
 * @throws ImportInputError naming what is missing
 */
export function checkOlistFolder(folder: string): void {
  const dir = resolve(folder);
  const kind = (path: string) => {
    try {
      return statSync(path).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  };
  if (kind(dir) !== 'dir')
    throw new ImportInputError(`the Olist folder ${dir} does not exist or is not a folder`);
  for (const file of Object.values(olistFiles)) {
    if (kind(join(dir, file)) !== 'file')
      throw new ImportInputError(`the Olist folder ${dir} has no ${file}`);
  }
}

/** Stream-parses a CSV file with a header row into records, checking that `required` columns are present. */
async function* readCsv<T>(path: string, required: readonly string[]): AsyncGenerator<T> {
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

/** Runs `fn` over the items of `source` with at most `concurrency` in flight; stops at the first failure. */
async function forEachConcurrently<T>(
  source: AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<void>,
  pauseMs = 0,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  let failed = false;
  const worker = async () => {
    while (!failed) {
      const next = await iterator.next();
      if (next.done) return;
      try {
        await fn(next.value);
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The summary as a readable block for the console. */
export function formatSummary(s: ImportSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `Olist import from ${s.folder}`,
    `  orders read            ${n(s.orders)} (${n(s.itemRows)} item rows)`,
    `  orders in the store    ${n(s.ordersImported)} (${n(s.ordersImported - s.ordersAlreadyComplete)} written now, ${n(s.ordersAlreadyComplete)} already complete)`,
    `  commands sent          ${n(s.commandsSent)}`,
    `  events appended        ${n(s.eventsAppended)}`,
    `  elapsed                ${s.elapsedSeconds.toFixed(1)} s (${n(Math.round(s.eventsPerSecond))} events/s)`,
  ];
  if (s.readModel) {
    lines.push(
      `  read model             ${n(s.readModel.commits)} commits read, ${n(s.readModel.applied)} order updates, ` +
        `${n(s.readModel.skipped)} already applied, ${s.readModel.elapsedSeconds.toFixed(1)} s`,
    );
  }
  lines.push('  anomalies');
  const width = Math.max(...Object.keys(anomalyLabels).map((k) => k.length));
  for (const [kind, label] of Object.entries(anomalyLabels) as [AnomalyKind, string][]) {
    lines.push(`    ${kind.padEnd(width)} ${String(s.anomalies[kind]).padStart(6)}  ${label}`);
  }
  if (s.problems.length) {
    lines.push('  first problems');
    for (const p of s.problems) lines.push(`    ${p}`);
  }
  return lines.join('\n');
}
