import { FunctionsCore } from '../functionsCore';
import { LocalHttpServer } from '../httpServer';
import { Logger } from '../logger';
import { DurableClock } from './clock';
import { LocalDurableRuntime, webhookPrefix } from './runtime';
import { LocalSettings } from '../settings';
import { durableWebhooks } from './webhooks';

export { LocalDurableRuntime, webhookPrefix } from './runtime';

/**
 * The local host's durable runtime, from settings (`DURABLE_TASK_HUB`, `LOCAL_DURABLE_*`), its hub in
 * `durable.db` under `dataDir`, the extension's HTTP API mounted on `http`, guarded by the system key
 * (`LOCAL_DURABLE_KEY`, or random for this run; logged at debug level). Call `start(origin)` once the
 * server listens and `stop()` on shutdown, before the stores the activities use are closed.
 * @throws SettingsError naming an invalid setting
 */
export function createDurableRuntime(
  core: FunctionsCore,
  http: LocalHttpServer,
  logger: Logger,
  options: { dataDir: string; hubName: string; settings: LocalSettings },
): LocalDurableRuntime {
  const { settings, dataDir, hubName } = options;
  const runtime = new LocalDurableRuntime(core, logger, {
    dataDir,
    hubName,
    clock: new DurableClock(settings.LOCAL_DURABLE_CLOCK),
    maxShortTimerSeconds: settings.LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS,
    longTimerIntervalSeconds: settings.LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS,
    key: settings.LOCAL_DURABLE_KEY,
  });
  http.mount(webhookPrefix, durableWebhooks(runtime));
  const { orchestrations, activities } = runtime.functionNames;
  logger.info(
    'durable',
    `task hub ${runtime.hubName}: ${orchestrations.length} orchestrations, ${activities.length} activities, ${settings.LOCAL_DURABLE_CLOCK} clock`,
  );
  logger.info(
    'durable',
    `webhooks ${webhookPrefix} need the system key (code=): ${
      settings.LOCAL_DURABLE_KEY ? 'LOCAL_DURABLE_KEY' : 'generated for this run (LOG_LEVEL=debug shows it)'
    }`,
  );
  if (!settings.LOCAL_DURABLE_KEY)
    logger.debug('durable', `system key: ${runtime.clientData('').requiredQueryStringParameters}`);
  return runtime;
}
