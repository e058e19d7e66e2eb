import { openDeadLetterStore } from '../adapters/deadLetterStores';
import { shareWriteLocks } from '../adapters/sqlite/database';
import { deadLetterTarget } from '../config/connections';
import { readSettings } from '../config/settings';
import { startTelemetry, stopTelemetry } from '../telemetry/start';
import { appRoot, forwardConsole, loadFunctionFiles } from './appLoading';
import { LocalChangeFeed } from './changeFeed';
import { createDurableRuntime } from './durable';
import type { ClientBindingData } from './durable/clientBinding';
import { eventGridRoutes } from './eventGrid/monitoringRoutes';
import { createLocalTopic } from './eventGrid/setup';
import { openFeedSource } from './feedSource';
import { FunctionsCore } from './functionsCore';
import { LocalHttpServer } from './httpServer';
import { Logger } from './logger';
import type { PipelineWorkerData } from './pipelineProtocol';
import { readLocalSettings } from './settings';

/** How long appends are gathered before the change feeds are woken, in ms (see `wake` below). */
const wakeDelayMs = 20;

/** The running pipeline of one thread. */
export interface Pipeline {
  /** Loopback port of the local topic (`/eventgrid/…`). */
  port: number;
  /** The topic's subscriptions (eventGrid-trigger functions as `function-<name>`, then the webhooks). */
  subscriptions: string[];
  /** The cosmosDB-trigger functions fed, by name. */
  feeds: string[];
  /** The durable client binding for the HTTP thread's functions, its URLs at the host's public origin. */
  durableClient: ClientBindingData;
  /** Reads the change feed now (another thread appended). */
  wake(): void;
  /**
   * The change-feed batches in flight finish and checkpoint, then the deliveries in flight; then the app's
   * `appTerminate` hooks close this thread's services and telemetry exports what it buffered.
   */
  stop(): Promise<void>;
}

/**
 * Starts the change feed into every cosmosDB-trigger function of `core` and the local Event Grid topic
 * delivering to its eventGrid-trigger functions and the webhook subscriptions, with the settings of the
 * environment, writing log lines with `write`. The function files are loaded here, after the topic listens:
 * with `data.hostTopic` the app's EVENTGRID_TOPIC_ENDPOINT is this thread's own topic, so the relay's
 * publishing never waits on the HTTP thread.
 * @throws SettingsError naming an invalid setting; whatever opening the stores throws
 */
export async function startPipeline(
  core: FunctionsCore,
  data: PipelineWorkerData,
  write: (line: string) => void,
): Promise<Pipeline> {
  shareWriteLocks(data.writeLocks);
  const local = readLocalSettings();
  const settings = readSettings();
  const logger = new Logger(settings.LOG_LEVEL, write);
  forwardConsole(logger);
  startTelemetry(settings, { error: (m) => logger.error('pipeline', m) });

  // Requests are logged by the HTTP thread, which forwards the public ones here; the relay's own are not news.
  const http = new LocalHttpServer(new Logger('warning', write));
  const port = await http.listen(0);
  if (data.hostTopic) process.env.EVENTGRID_TOPIC_ENDPOINT = `http://127.0.0.1:${port}/eventgrid/api/events`;
  loadFunctionFiles(appRoot());
  // The durable runtime, its webhooks served here (the HTTP thread forwards them); this thread's functions call
  // them on this thread's port.
  const durable = createDurableRuntime(core, http, logger, {
    dataDir: settings.DATA_DIR,
    hubName: settings.DURABLE_TASK_HUB,
    settings: local,
  });

  const deadLetters = openDeadLetterStore(deadLetterTarget(settings));
  const topic = createLocalTopic(core, settings.DATA_DIR, local, data.topicKey, deadLetters, logger);
  http.mount('/eventgrid/', eventGridRoutes(topic.topic, logger));
  const feedSource = openFeedSource(settings);
  const feeds = core.byTrigger('cosmosDBTrigger').map(
    (fn) =>
      new LocalChangeFeed(fn, feedSource, logger, {
        pollMs: local.LOCAL_CHANGE_FEED_POLL_MS,
        retryScale: local.LOCAL_RETRY_SCALE,
      }),
  );
  // The app's start-up messages (the development sign-in hint) are the HTTP thread's to tell; here they go to
  // the debug level, so a person reads each once.
  const info = console.info;
  console.log = console.info = (...args: unknown[]) => logger.debug('worker', ...args);
  try {
    await core.runHooks('appStart', { hookData: {}, appHookData: core.appHookData });
  } finally {
    console.log = console.info = info;
  }
  durable.start(`http://127.0.0.1:${port}`);
  topic.topic.start();
  feeds.forEach((f) => f.start());
  // Wakes are taken together for a moment: under a stream of commands each feed then reads a batch of commits
  // with one checkpoint and one write per order, instead of a batch per commit, and holds SQLite's one write
  // lock (which the HTTP thread's appends wait for) that much less often.
  let wakeTimer: NodeJS.Timeout | undefined;
  const wake = () => {
    wakeTimer ??= setTimeout(() => {
      wakeTimer = undefined;
      feeds.forEach((f) => f.wake());
    }, wakeDelayMs);
  };
  // Appends on this thread (a change-feed function's own commands) wake the feeds at once, as on the HTTP thread.
  const unsubscribe = feedSource.onAppended(wake);

  let stopping: Promise<void> | undefined;
  return {
    port,
    subscriptions: topic.topic.subscriptionNames,
    feeds: core.byTrigger('cosmosDBTrigger').map((fn) => fn.metadata.name),
    durableClient: durable.clientData(data.origin),
    wake,
    stop: () =>
      (stopping ??= (async () => {
        // Feeds first: the relay's batch in flight publishes to the topic, which still takes it.
        await Promise.all(feeds.map((f) => f.stop()));
        unsubscribe();
        await durable.stop();
        await topic.topic.stop();
        await http.close();
        await core.runHooks('appTerminate', { hookData: {}, appHookData: core.appHookData });
        await stopTelemetry();
        topic.db.close();
        await feedSource.close();
      })()),
  };
}
