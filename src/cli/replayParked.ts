import { replayParked, ReplayResult } from '../app/publishing';
import { createServices } from '../composition/services';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings, SettingsError } from '../config/settings';
import { runCommand } from '../shared/runCommand';

/**
 * `npm run replay-parked`: publishes the commits the Event Grid relay parked (dead-letter channel `parked`)
 * once the cause is fixed, with the app's settings (`local.settings.json` Values under the environment, as
 * `npm start`): the same dead-letter store, topic (EVENTGRID_TOPIC_ENDPOINT) and CloudEvent mapping as the relay.
 * Each commit's letter is deleted once the topic accepted its events; events keep their ids
 * (`{orderId}:{version}`), so subscribers deduplicate any they already had. The summary goes to stdout, each
 * failure to stderr. Exit code 0 when every parked commit was replayed, 1 otherwise (a commit failed or was
 * left for a later run, or the settings are invalid). `dataschema` comes from PUBLIC_BASE_URL as for the app:
 * set it as the app has it.
 */

export function formatReplaySummary(r: ReplayResult): string {
  const lines = [
    `replayed ${r.replayed} parked commit(s): ${r.published} event(s) published, ${r.deadLettered} dead-lettered (refused for good)`,
  ];
  if (r.failed.length) lines.push(`failed: ${r.failed.length} (still parked)`);
  if (r.notAttempted) lines.push(`not attempted: ${r.notAttempted} (still parked; run again)`);
  return lines.join('\n');
}

/** Runs a replay with the settings of `env` and reports it; resolves the exit code. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  loadLocalSettings(process.cwd(), env);
  const settings = readSettings(env);
  if (!settings.EVENTGRID_TOPIC_ENDPOINT) {
    throw new SettingsError(
      'invalid settings: EVENTGRID_TOPIC_ENDPOINT is not set (the topic to replay to; for the local host ' +
        'http://127.0.0.1:<PORT>/eventgrid/api/events with EVENTGRID_TOPIC_KEY set to its LOCAL_EVENTGRID_KEY)',
    );
  }
  const services = createServices(settings);
  try {
    const result = await replayParked(services.deadLetters, services.cloudEvents, services.publisher, {
      warn: (m) => console.error(`warning: ${m}`),
      error: (m) => console.error(`error: ${m}`),
    });
    console.log(formatReplaySummary(result));
    return result.failed.length === 0 && result.notAttempted === 0 ? 0 : 1;
  } finally {
    await services.close();
  }
}

if (require.main === module)
  runCommand(
    () => main(),
    (err) => err instanceof SettingsError,
  );
