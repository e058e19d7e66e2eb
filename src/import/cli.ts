import { createServices } from '../composition/services';
import { runningHost } from '../adapters/sqlite/hostMarker';
import { readSettings, SettingsError } from '../config/settings';
import { checkOlistFolder, formatSummary, ImportInputError, importOlist } from './olist';
import { runCommand } from '../shared/runCommand';

/**
 * `npm run import -- olist <folder>`: imports the Olist sample into the event store under DATA_DIR (the
 * same settings as the host) and fills the read model. Progress goes to stderr, the summary to stdout.
 * Exit code 0 on success, 1 on bad arguments, a missing folder or any failure.
 */

const usage = `usage: npm run import -- olist <folder>
  olist <folder>   import olist_orders_dataset.csv and olist_order_items_dataset.csv from <folder>
The store is the one under DATA_DIR (default ./.data), as for npm start.`;

class UsageError extends Error {}

export function parseArgs(argv: string[]): { source: 'olist'; folder: string } {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) throw new UsageError('');
  const [source, folder, ...rest] = argv;
  if (source !== 'olist') {
    throw new UsageError(
      source === undefined ? 'no source given' : `unknown source "${source}" (only "olist" exists)`,
    );
  }
  if (!folder) throw new UsageError('no folder given');
  if (rest.length) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
  return { source, folder };
}

async function main(argv: string[]): Promise<number> {
  let folder: string;
  try {
    ({ folder } = parseArgs(argv));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(`error: ${err.message}`);
    console.error(usage);
    return 1;
  }
  checkOlistFolder(folder); // before opening the store, which would create DATA_DIR
  const settings = readSettings();
  const host = settings.EVENT_STORE === 'sqlite' ? runningHost(settings.DATA_DIR) : undefined;
  if (host) {
    console.error(
      `note: npm start (pid ${host.pid}, port ${host.port}) uses this DATA_DIR too. SQLite has one writer at ` +
        'a time, so the import pauses 1 ms after each order to leave the host room: it runs about half as ' +
        'fast. Stopping the host first (Ctrl+C) is faster; the read model catches up either way.',
    );
  }
  const services = createServices(settings);
  try {
    console.error(`importing Olist from ${folder} into ${settings.DATA_DIR}`);
    const summary = await importOlist(folder, services, {
      onProgress: (p) =>
        console.error(
          `  ${p.ordersDone.toLocaleString('en-US')} orders, ${p.eventsAppended.toLocaleString('en-US')} events, ` +
            `${Math.round(p.eventsPerSecond).toLocaleString('en-US')} events/s`,
        ),
      pauseMs: host ? 1 : 0,
    });
    console.log(formatSummary(summary));
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
