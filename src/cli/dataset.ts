import { join, relative } from 'node:path';
import { parseArgs as parseNodeArgs } from 'node:util';
import { writeDatasetFolder } from '../adapters/dataset/parquetDataset';
import { cardMarkdown, formatDuration, purchaseCard } from '../analytics/dataset/card';
import { toDatasetEvents } from '../analytics/dataset/datasetEvent';
import { buildPurchaseDataset, parseDuration, purchaseColumns } from '../analytics/dataset/purchase';
import { createServices } from '../composition/services';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings, SettingsError } from '../config/settings';
import { EventStore, eventsOfCommit, RecordedEvent } from '../ports/eventStore';
import { runCommand } from '../shared/runCommand';

/**
 * `npm run dataset -- purchase --horizon 7d [--from ISO --to ISO --step 7d] [--output folder]`: builds the
 * leak-free purchase training set (docs/analytics.md, "Leak-free training sets") from every event of the store
 * the settings choose (DATA_DIR by default, as `npm start`) and writes it as a folder: `data.parquet`, `MLTable`,
 * `dataset-card.json`, `README.md`. Progress goes to stderr, the summary to stdout. Exit code 0 on success, 1 on
 * bad arguments, invalid settings or any failure.
 */

const usage = `usage: npm run dataset -- purchase --horizon 7d [--from ISO] [--to ISO] [--step 7d] [--output folder]
  --horizon  label window after each observation time t: purchase (submitted or accepted) in (t, t + horizon]
  --step     distance between observation times (default: the horizon)
  --from     first observation time, ISO 8601 date (UTC midnight) or date-time with zone (default: the first
             UTC midnight of the data)
  --to       last observation time (default: the end of the data minus the horizon; later ones are dropped)
  --output   folder to write (default: DATA_DIR/datasets/purchase-<horizon>)
Durations: a number and m, h, d or w (30m, 12h, 7d, 2w).`;

export class UsageError extends Error {}

export interface DatasetArgs {
  kind: 'purchase';
  horizonMs: number;
  stepMs?: number;
  from?: number;
  to?: number;
  output?: string;
}

const instant = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** @throws UsageError unless `text` is a date or a date-time with a zone */
function parseInstant(text: string, flag: string): number {
  const ms = Date.parse(text);
  if (!instant.test(text) || Number.isNaN(ms)) {
    throw new UsageError(`${flag} "${text}" is not an ISO 8601 date or date-time with a zone`);
  }
  return ms;
}

/** @throws UsageError for a duration parseDuration refuses */
function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

/**
 * Reads the command line (after `npm run dataset --`).
 * @throws UsageError naming what is wrong; an empty message for --help
 */
export function parseArgs(argv: string[]): DatasetArgs {
  let parsed;
  try {
    parsed = parseNodeArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        horizon: { type: 'string' },
        step: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        output: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('');
  const [kind, ...rest] = positionals;
  if (kind !== 'purchase') {
    throw new UsageError(
      kind === undefined ? 'no dataset given' : `unknown dataset "${kind}" (only "purchase")`,
    );
  }
  if (rest.length) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
  if (values.horizon === undefined) throw new UsageError('--horizon is required (e.g. --horizon 7d)');
  const args: DatasetArgs = { kind, horizonMs: duration(values.horizon, '--horizon') };
  if (values.step !== undefined) args.stepMs = duration(values.step, '--step');
  if (values.from !== undefined) args.from = parseInstant(values.from, '--from');
  if (values.to !== undefined) args.to = parseInstant(values.to, '--to');
  if (args.from !== undefined && args.to !== undefined && args.from > args.to) {
    throw new UsageError('--from is after --to');
  }
  if (values.output !== undefined) args.output = values.output;
  return args;
}

/** Every event of the store, from the start of the global feed, `pageSize` commits at a time. */
export async function readAllEvents(
  store: Pick<EventStore, 'readFeed'>,
  onPage?: (events: number) => void,
  pageSize = 1000,
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let position: string | undefined;
  for (;;) {
    const page = await store.readFeed(position, pageSize);
    if (page.commits.length === 0) return events;
    for (const commit of page.commits) events.push(...eventsOfCommit(commit));
    position = page.position;
    onPage?.(events.length);
  }
}

export interface DatasetRun {
  folder: string;
  rows: number;
  positives: number;
  summary: string;
}

/**
 * Builds the purchase training set from `store` and writes it to `folder`.
 * @throws DatasetWriteError (src/adapters/dataset/parquetDataset.ts) when the table cannot be written
 */
export async function buildPurchaseFolder(
  store: Pick<EventStore, 'readFeed'>,
  args: DatasetArgs,
  folder: string,
  command: string,
  log: (line: string) => void = () => {},
): Promise<DatasetRun> {
  let reported = 0;
  const records = await readAllEvents(store, (n) => {
    if (n - reported < 20_000) return;
    reported = n;
    log(`  read ${n.toLocaleString('en-US')} events`);
  });
  const { events, unknown } = toDatasetEvents(records);
  log(`building rows from ${events.length.toLocaleString('en-US')} events`);
  const { rows, summary } = buildPurchaseDataset(events, args);
  const card = purchaseCard({
    summary,
    unknownEvents: unknown,
    builtAt: new Date(),
    command,
    files: { data: 'data.parquet', mltable: 'MLTable' },
  });
  const paths = await writeDatasetFolder(
    folder,
    { columns: purchaseColumns, rows: rows as unknown as Iterable<Readonly<Record<string, unknown>>> },
    { json: card, markdown: cardMarkdown(card) },
  );
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)} %`);
  const lines = [
    `wrote ${paths.data}`,
    `  rows ${card.rows.toLocaleString('en-US')}, positives ${card.positives.toLocaleString('en-US')}, base rate ${pct(card.baseRate)}`,
    ...Object.entries(card.byEntity).map(
      ([entity, e]) =>
        `  ${entity}: rows ${e.rows.toLocaleString('en-US')}, positives ${e.positives.toLocaleString('en-US')}, base rate ${pct(e.baseRate)}`,
    ),
    `  observation times ${card.timeRange.observationTimes} (${card.timeRange.firstObservation} .. ${card.timeRange.lastObservation}, every ${card.step}), ${card.timeRange.droppedObservationTimes} dropped (label window past the end of the data, ${card.timeRange.dataEnd})`,
    `  horizon ${card.horizon}; schema ${card.schemaHash.slice(0, 16)}…`,
  ];
  if (summary.importedEvents > 0) {
    lines.push(
      `  note: ${summary.importedEvents.toLocaleString('en-US')} of ${summary.events.toLocaleString('en-US')} events ` +
        'are imported history (recordedAt = the import time): they count as known at their business time ' +
        `(occurredAt ≤ t); ${summary.rowsWithImportedHistory.toLocaleString('en-US')} rows use them (imported_history).`,
    );
  }
  if (unknown > 0)
    lines.push(`  note: ${unknown} event(s) of unknown types or newer schema versions left out`);
  lines.push(`  card ${paths.cardJson}, MLTable ${paths.mltable}`);
  return { folder: paths.data, rows: card.rows, positives: card.positives, summary: lines.join('\n') };
}

/** Runs the command with the settings of `env`; resolves the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: DatasetArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(`error: ${err.message}`);
    console.error(usage);
    return 1;
  }
  loadLocalSettings(process.cwd(), env);
  const settings = readSettings(env);
  const folder =
    args.output ?? join(settings.DATA_DIR, 'datasets', `purchase-${formatDuration(args.horizonMs)}`);
  const services = createServices(settings);
  try {
    console.error(`reading every event of the ${settings.EVENT_STORE} store`);
    const run = await buildPurchaseFolder(
      services.store,
      args,
      folder,
      `npm run dataset -- ${argv.join(' ')}`,
      (line) => console.error(line),
    );
    console.log(run.summary);
    console.error(`(folder ${relative(process.cwd(), folder) || '.'})`);
    return 0;
  } finally {
    await services.close();
  }
}

if (require.main === module)
  runCommand(
    () => main(process.argv.slice(2)),
    (err) => err instanceof SettingsError,
  );
