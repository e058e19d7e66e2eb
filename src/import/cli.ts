import { createServices } from '../composition/services';
import { runningHost } from '../adapters/sqlite/hostMarker';
import { readSettings, SettingsError } from '../config/settings';
import { checkOlistFolder, formatSummary, ImportInputError, ImportOptions, importOlist } from './olist';
import { checkOnlineRetailFolder, formatRetailSummary, importOnlineRetail } from './onlineRetail';
import { runCommand } from '../shared/runCommand';

/**
 * `npm run import -- olist <folder>` (or `online-retail <folder>`): imports the Olist sample (or the UCI
 * Online Retail invoices) into the event store under DATA_DIR (the
 * same settings as the host) and fills the read model. Progress goes to stderr, the summary to stdout.
 * Exit code 0 on success, 1 on bad arguments, a missing folder or any failure.
 */

const usage = `usage: npm run import -- olist|online-retail <folder>
  olist <folder>           import olist_orders_dataset.csv, olist_order_items_dataset.csv and
                           olist_customers_dataset.csv from <folder>
  online-retail <folder>   import online_retail_non_uk.csv (UCI Online Retail invoices) from <folder>
The store is the one under DATA_DIR (default ./.data), as for npm start.`;

class UsageError extends Error {}

/**
 * How the import writes beside a running host (`npm start` on the same DATA_DIR): short transactions (a few
 * ms each) and a pause after each longer than the first sleeps of SQLite's busy handler (1, 2, 5, 10 ms), so
 * that a host write waiting for the lock gets it within a few ms instead of missing the gaps
 * (docs/performance.md, health during an import).
 */
export const besideHost = { batchCommands: 100, pauseMs: 20 } as const satisfies ImportOptions;

const sources = ['olist', 'online-retail'] as const;
type Source = (typeof sources)[number];

export function parseArgs(argv: string[]): { source: Source; folder: string } {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) throw new UsageError('');
  const [source, folder, ...rest] = argv;
  if (!sources.includes(source as Source)) {
    throw new UsageError(
      source === undefined
        ? 'no source given'
        : `unknown source "${source}" (${sources.map((s) => `"${s}"`).join(' or ')})`,
    );
  }
  if (!folder) throw new UsageError('no folder given');
  if (rest.length) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
  return { source: source as Source, folder };
}

async function main(argv: string[]): Promise<number> {
  let folder: string;
  let source: Source;
  try {
    ({ source, folder } = parseArgs(argv));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(`error: ${err.message}`);
    console.error(usage);
    return 1;
  }
  // before opening the store, which would create DATA_DIR
  if (source === 'olist') checkOlistFolder(folder);
  else checkOnlineRetailFolder(folder);
  const settings = readSettings();
  const host = settings.EVENT_STORE === 'sqlite' ? runningHost(settings.DATA_DIR) : undefined;
  if (host) {
    console.error(
      `note: npm start (pid ${host.pid}, port ${host.port}) uses this DATA_DIR too. SQLite has one writer at ` +
        `a time, so the import writes ${besideHost.batchCommands} commands per transaction and pauses ` +
        `${besideHost.pauseMs} ms after each to leave the host room: it runs several times slower. Stopping ` +
        'the host first (Ctrl+C) is faster; the read model catches up either way.',
    );
  }
  const services = createServices(settings);
  try {
    const options: ImportOptions = {
      onProgress: (p) =>
        console.error(
          `  ${p.ordersDone.toLocaleString('en-US')} orders, ${p.eventsAppended.toLocaleString('en-US')} events, ` +
            `${Math.round(p.eventsPerSecond).toLocaleString('en-US')} events/s`,
        ),
      ...(host ? besideHost : {}),
    };
    console.error(
      `importing ${source === 'olist' ? 'Olist' : 'Online Retail'} from ${folder} into ${settings.DATA_DIR}`,
    );
    let summary;
    if (source === 'olist') {
      summary = await importOlist(folder, services, options);
      console.log(formatSummary(summary));
    } else {
      summary = await importOnlineRetail(folder, services, options);
      console.log(formatRetailSummary(summary));
    }
    const { refusedCommands, invalidRow } = summary.anomalies;
    if (refusedCommands + invalidRow === 0) return 0;
    console.error(
      `error: import incomplete: ${refusedCommands} command(s) refused, ${invalidRow} row(s) unreadable`,
    );
    return 1;
  } finally {
    await services.close();
  }
}

if (require.main === module)
  runCommand(
    () => main(process.argv.slice(2)),
    (err) => err instanceof ImportInputError || err instanceof SettingsError,
  );
