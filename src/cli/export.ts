import { SingleBar, Presets } from 'cli-progress';
import { BackfillResult } from '../app/eventLake';
import { createServices } from '../composition/services';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings, SettingsError } from '../config/settings';
import { runCommand } from '../shared/runCommand';

/**
 * `npm run export`: writes the whole event log into the event lake from its beginning (a backfill; see
 * docs/analytics.md), with the app's settings (`local.settings.json` Values under the environment): the same store
 * (EVENT_STORE) and lake (EVENT_LAKE, EVENT_LAKE_FOLDER or the container). Shows a progress bar on stderr, then a
 * summary on stdout. Safe to run while the app runs and to run again: the lake takes each event once.
 *
 * `npm run export -- ocel ...` runs the OCEL 2.0 export instead (src/cli/exportOcel.ts).
 * Exit code 0 on success, 1 on an error (message on stderr).
 */

export function formatExportSummary(r: BackfillResult, location: string, seconds: number): string {
  const files = r.rolls.reduce((n, x) => n + x.files, 0);
  const bytes = r.rolls.reduce((n, x) => n + x.bytes, 0);
  const written = r.rolls.reduce((n, x) => n + x.events, 0);
  return [
    `event lake: ${location}`,
    `read ${r.commits} commit(s), ${r.commits - r.skipped} new to the lake, ${r.skipped} already in it`,
    `wrote ${written} event(s) in ${files} Parquet file(s), ${(bytes / 1024 / 1024).toFixed(1)} MiB, in ${seconds.toFixed(1)} s` +
      (written > 0 && seconds > 0 ? ` (${Math.round(written / seconds)} events/s)` : ''),
    `the lake holds ${r.manifest.events} event(s) of ${r.manifest.watermarks.length} order(s) in ${r.manifest.files.length} file(s)`,
  ].join('\n');
}

/** Runs the backfill with the settings of `env`; resolves the exit code. */
export async function backfillMain(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  loadLocalSettings(process.cwd(), env);
  const settings = readSettings(env);
  const services = createServices(settings);
  try {
    const lake = services.lake;
    // A first pass counts the commits, for the bar's total (the store's feed has no count).
    let total = 0;
    for (
      let position: string | undefined, page;
      (page = await services.store.readFeed(position, 5000)).commits.length;
    ) {
      total += page.commits.length;
      position = page.position;
    }
    const bar = new SingleBar(
      {
        format: 'export [{bar}] {percentage}% | {value}/{total} commits | {events} events | {eta_formatted}',
        stream: process.stderr,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { events: 0 });
    const started = performance.now();
    let result: BackfillResult;
    try {
      result = await lake.backfill(services.store, {
        onProgress: (p) => bar.update(Math.min(p.commits, Math.max(total, p.commits)), { events: p.events }),
      });
      bar.update(Math.max(total, result.commits));
    } finally {
      bar.stop();
    }
    console.log(formatExportSummary(result, lake.target.location, (performance.now() - started) / 1000));
    return 0;
  } finally {
    await services.close();
  }
}

/** `npm run export [-- ocel ...]`: dispatches on the first argument. */
export async function main(args: string[] = process.argv.slice(2)): Promise<number> {
  if (args[0] === 'ocel') return (await import('./exportOcel')).main(args.slice(1));
  if (args.length > 0)
    throw new SettingsError(`unknown arguments: ${args.join(' ')} (usage: npm run export [-- ocel ...])`);
  return backfillMain();
}

if (require.main === module)
  runCommand(
    () => main(),
    (err) => err instanceof SettingsError,
  );
