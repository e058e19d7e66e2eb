import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LibsqlOcelWriter } from '../adapters/ocel/sqliteOcelWriter';
import { buildOcelLog, countOcel } from '../analytics/ocel/ocelLog';
import { collect, readEventLog } from '../app/eventLog';
import { createServices } from '../composition/services';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings } from '../config/settings';

/**
 * `npm run export -- ocel [--from ISO] [--to ISO] [--format json|sqlite] [--output path]`: writes the event log
 * as an OCEL 2.0 object-centric event log (docs/analytics.md, "Process mining: OCEL 2.0"), in the JSON or the
 * SQLite format, with the app's settings (`local.settings.json` Values under the environment) and its store.
 * `--from`/`--to` select events by business time, from inclusive, to exclusive. The default output is
 * `DATA_DIR/exports/ocel.json` (or `ocel.sqlite`). Progress on stderr, a summary on stdout.
 * Resolves the exit code: 0 written, 2 bad arguments (the message and the usage on stderr); a failure of the
 * store or the file rejects.
 */

const usage = `usage: npm run export -- ocel [--from ISO] [--to ISO] [--format json|sqlite] [--output path]
  --from, --to   business-time range of the events (ISO 8601 with zone; from inclusive, to exclusive)
  --format       json (default) or sqlite, the two OCEL 2.0 exchange formats
  --output       the file to write (default DATA_DIR/exports/ocel.json or ocel.sqlite)`;

class UsageError extends Error {}

interface ExportOptions {
  from?: string;
  to?: string;
  format: 'json' | 'sqlite';
  output?: string;
}

const isoWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** @throws UsageError naming the bad argument */
function parseOptions(args: string[]): ExportOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  for (const name of ['from', 'to'] as const) {
    const v = values[name];
    if (v !== undefined && (!isoWithZone.test(v) || Number.isNaN(Date.parse(v))))
      throw new UsageError(`--${name} ${v}: not an ISO 8601 time with a zone, such as 2018-01-01T00:00:00Z`);
  }
  if (values.from && values.to && Date.parse(values.from) >= Date.parse(values.to))
    throw new UsageError('--to must be after --from');
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'sqlite') throw new UsageError(`--format ${format}: json or sqlite`);
  if (values.output === '') throw new UsageError('--output: empty path');
  return { from: values.from, to: values.to, format, output: values.output };
}

/** Runs the export; resolves the exit code (see above). */
export async function main(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: ExportOptions | 'help';
  try {
    options = parseOptions(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`error: ${err.message}\n${usage}`);
    return 2;
  }
  if (options === 'help') {
    console.error(usage);
    return 0;
  }
  loadLocalSettings(process.cwd(), env);
  const settings = readSettings(env);
  const output = resolve(
    options.output ??
      join(settings.DATA_DIR, 'exports', options.format === 'json' ? 'ocel.json' : 'ocel.sqlite'),
  );
  const services = createServices(settings);
  try {
    const started = performance.now();
    const events = await collect(
      readEventLog(services.store, {
        onPage: (p) => {
          if (process.stderr.isTTY)
            process.stderr.write(`\rreading the event log: ${p.commits} commits, ${p.events} events`);
        },
      }),
    );
    if (process.stderr.isTTY) process.stderr.write('\n');
    const log = buildOcelLog(events, { from: options.from, to: options.to });
    let counts;
    if (options.format === 'json') {
      mkdirSync(dirname(output), { recursive: true });
      writeFileSync(output, JSON.stringify(log));
      counts = countOcel(log);
    } else {
      counts = await new LibsqlOcelWriter().write(log, output);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      [
        `OCEL 2.0 ${options.format}: ${output}`,
        `  events ${counts.events} (${counts.eventTypes} types), objects ${counts.objects} (${counts.objectTypes} types)`,
        `  event-object relations ${counts.eventObject}, object-object relations ${counts.objectObject}, ` +
          `object attribute values ${counts.objectAttributeChanges}`,
        `  ${seconds.toFixed(1)} s`,
      ].join('\n'),
    );
    return 0;
  } finally {
    await services.close();
  }
}
