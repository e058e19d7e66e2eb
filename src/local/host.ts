import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { openDeadLetterStore } from '../adapters/deadLetterStores';
import { writeHostMarker } from '../adapters/sqlite/hostMarker';
import { deadLetterTarget } from '../config/connections';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings } from '../config/settings';
import { LocalChangeFeed } from './changeFeed';
import { createDurableRuntime } from './durable';
import { eventGridRoutes } from './eventGrid/monitoringRoutes';
import { createLocalTopic } from './eventGrid/setup';
import { mountDevSignIn } from './devSignInRoute';
import { openFeedSource } from './feedSource';
import { FunctionsCore } from './functionsCore';
import { LocalHttpServer } from './httpServer';
import { Logger } from './logger';
import { readLocalSettings } from './settings';
import { startTelemetry, stopTelemetry } from '../telemetry/start';

/** The folder holding package.json, searched upwards from this file. */
export function appRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + from);
    dir = up;
  }
  return dir;
}

/** Loads the function files the way the Functions host does: package.json `main`, a file or glob. */
export function loadFunctionFiles(root: string): string[] {
  const main = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string }).main;
  if (!main) throw new Error('package.json has no "main" naming the function files');
  const files = globSync(main, { cwd: root, absolute: true }).sort();
  if (files.length === 0)
    throw new Error(`no file matches package.json "main" (${main}); run "npm run build"`);
  // The Functions host loads `main` with require too; these files are only known at run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const file of files) require(resolve(file));
  return files;
}

/**
 * The app's `console` output becomes host log lines (source `worker`) at the matching level, as the Node.js
 * worker forwards it to the Functions host on Azure; `console.debug` is then filtered by LOG_LEVEL.
 */
function forwardConsole(logger: Logger): void {
  console.debug = (...args: unknown[]) => logger.debug('worker', ...args);
  console.log = console.info = (...args: unknown[]) => logger.info('worker', ...args);
  console.warn = (...args: unknown[]) => logger.warn('worker', ...args);
  console.error = (...args: unknown[]) => logger.error('worker', ...args);
}

export interface RunningHost {
  port: number;
  stop(): Promise<void>;
}

/**
 * The settings the host gives the app, as Core Tools does for a worker: `local.settings.json` Values under
 * the environment, plus where this host's own stand-ins are (the local Event Grid topic and its key, the
 * public URL), unless the environment already names them. Fixed before the app loads and reads them.
 */
function provideAppSettings(origin: string, topicKey: string, env: NodeJS.ProcessEnv): void {
  if (!env.EVENTGRID_TOPIC_ENDPOINT) {
    env.EVENTGRID_TOPIC_ENDPOINT = `${origin}/eventgrid/api/events`;
    env.EVENTGRID_TOPIC_KEY = topicKey;
  }
  env.PUBLIC_BASE_URL ??= origin;
}

/**
 * Starts the local host: settings, HTTP on `/api`, the function files, the embedded change feed into every
 * cosmosDB-trigger function, the local Event Grid topic delivering to eventGrid-trigger functions and
 * webhooks, the durable runtime. SIGINT/SIGTERM stop it gracefully: the change-feed batches in flight
 * finish and checkpoint, no new requests, requests in flight answered, deliveries in flight finish, then
 * the app's `appTerminate` hooks close its services.
 */
export async function startHost(core: FunctionsCore): Promise<RunningHost> {
  const root = appRoot();
  loadLocalSettings(root);
  const local = readLocalSettings();
  const settings = readSettings();
  const logger = new Logger(settings.LOG_LEVEL);
  forwardConsole(logger);
  // Before the function files load, as src/index.ts does on Azure (docs/observability.md).
  const telemetry = startTelemetry(settings, { error: (m) => logger.error('host', m) });

  // Listen first: the app's settings name this host's port (the topic endpoint, the public URL).
  const http = new LocalHttpServer(logger);
  const port = await http.listen(local.PORT);
  const origin = `http://127.0.0.1:${port}`;
  const topicKey = local.LOCAL_EVENTGRID_KEY ?? randomBytes(24).toString('base64url');
  provideAppSettings(origin, topicKey, process.env);

  loadFunctionFiles(root);
  const durable = createDurableRuntime(core, http, logger, {
    dataDir: settings.DATA_DIR,
    hubName: settings.DURABLE_TASK_HUB,
    settings: local,
  });
  const deadLetters = openDeadLetterStore(deadLetterTarget(settings));
  const topic = createLocalTopic(core, settings.DATA_DIR, local, topicKey, deadLetters, logger);
  // The topic's publish endpoint, and its local-only read routes (deliveries, stats).
  http.mount('/eventgrid/', eventGridRoutes(topic.topic, logger));
  // POST /.auth/login/dev, with AUTH_MODE=development only.
  mountDevSignIn(http, settings, port, logger);
  const feedSource = openFeedSource(settings);
  const feeds = core.byTrigger('cosmosDBTrigger').map(
    (fn) =>
      new LocalChangeFeed(fn, feedSource, logger, {
        pollMs: local.LOCAL_CHANGE_FEED_POLL_MS,
        retryScale: local.LOCAL_RETRY_SCALE,
      }),
  );
  await core.runHooks('appStart', { hookData: {}, appHookData: core.appHookData });
  http.serveFunctions(core);
  durable.start(origin);
  const removeMarker =
    settings.EVENT_STORE === 'sqlite' ? writeHostMarker(settings.DATA_DIR, port) : () => {};
  topic.topic.start();
  feeds.forEach((f) => f.start());
  // Appends in this process (the functions' own store) wake the feeds at once; other writers are polled.
  const unsubscribe = feedSource.onAppended(() => feeds.forEach((f) => f.wake()));
  logger.info('host', `${core.functions.size} functions: ${[...core.functions.keys()].join(', ')}`);
  if (settings.EVENT_STORE === 'cosmos') {
    const endpoint = settings.COSMOS_ENDPOINT ?? settings.COSMOS__accountEndpoint;
    logger.info('host', `state: cosmos at ${endpoint}, database ${settings.COSMOS_DATABASE}`);
    if (settings.COSMOS_FEED_MODE === 'test-server-scan') {
      // See FeedMode in src/adapters/cosmos/cosmosEventStore.ts: the test server's change feed is a stub.
      logger.warn(
        'host',
        'change feed: test-server-scan (a query in insertion order), not the Cosmos DB change feed',
      );
    }
  } else {
    logger.info('host', `state: ${settings.EVENT_STORE}, data in ${resolve(settings.DATA_DIR)}`);
  }
  logger.info(
    'host',
    `Event Grid topic ${origin}/eventgrid/api/events → ${topic.topic.subscriptionNames.join(', ')}`,
  );
  logger.info(
    'host',
    telemetry === 'otlp'
      ? `telemetry: OTLP/HTTP to ${settings.OTEL_EXPORTER_OTLP_ENDPOINT}`
      : telemetry === 'azure-monitor'
        ? 'telemetry: Azure Monitor (APPLICATIONINSIGHTS_CONNECTION_STRING)'
        : 'telemetry: off (set OTEL_EXPORTER_OTLP_ENDPOINT to send traces, metrics and logs to a collector)',
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('host', 'stopping: no new requests; finishing what is in flight');
      // Feeds first: the relay's batch in flight publishes through this host's own topic endpoint.
      await Promise.all(feeds.map((f) => f.stop()));
      unsubscribe();
      await http.close();
      await durable.stop();
      await topic.topic.stop();
      await core.runHooks('appTerminate', { hookData: {}, appHookData: core.appHookData });
      // What is still buffered (the last batches' spans, the metrics) is exported before the exit.
      await stopTelemetry();
      topic.db.close();
      await feedSource.close();
      removeMarker();
      logger.info('host', 'stopped');
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: a second signal while draining must not kill the process half-way.
    process.on(signal, () => void stop().then(() => process.exit(0)));
  }
  // Signals are handled before the host says it listens, so whoever waits for that line can stop it.
  logger.info('host', `listening on ${origin}/api (the dashboard: ${origin}/)`);

  return { port, stop };
}
