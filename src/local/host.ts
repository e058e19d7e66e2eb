import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { shareWriteLocks } from '../adapters/sqlite/database';
import { writeHostMarker } from '../adapters/sqlite/hostMarker';
import { loadLocalSettings } from '../config/localSettingsFile';
import { readSettings } from '../config/settings';
import { appRoot, forwardConsole, loadFunctionFiles } from './appLoading';
import { webhookPrefix } from './durable';
import { supplyClientBindings } from './durable/clientBinding';
import { mountDevSignIn } from './devSignInRoute';
import { openFeedSource } from './feedSource';
import { forwardTo } from './forward';
import { FunctionsCore } from './functionsCore';
import { LocalHttpServer } from './httpServer';
import { Logger } from './logger';
import { PipelineThread } from './pipelineThread';
import { readLocalSettings } from './settings';
import { startTelemetry, stopTelemetry } from '../telemetry/start';

export { appRoot, loadFunctionFiles } from './appLoading';

export interface RunningHost {
  port: number;
  stop(): Promise<void>;
}

/**
 * The settings the host gives the app, as Core Tools does for a worker: `local.settings.json` Values under
 * the environment, plus where this host's own stand-ins are (the local Event Grid topic and its key, the
 * public URL), unless the environment already names them. Fixed before the app loads and reads them.
 */
function provideAppSettings(origin: string, topicKey: string, env: NodeJS.ProcessEnv): boolean {
  const hostTopic = !env.EVENTGRID_TOPIC_ENDPOINT;
  if (hostTopic) {
    env.EVENTGRID_TOPIC_ENDPOINT = `${origin}/eventgrid/api/events`;
    env.EVENTGRID_TOPIC_KEY = topicKey;
  }
  env.PUBLIC_BASE_URL ??= origin;
  return hostTopic;
}

/**
 * Starts the local host: settings, HTTP on `/api`, the function files, the durable runtime, and the pipeline
 * thread (src/local/pipelineThread.ts): the embedded change feed into every cosmosDB-trigger function and the
 * local Event Grid topic delivering to eventGrid-trigger functions and webhooks, off the thread that answers
 * HTTP (docs/adr/0016-pipeline-thread.md). SIGINT/SIGTERM stop it gracefully: the change-feed batches in flight
 * finish and checkpoint, deliveries in flight finish, no new requests, requests in flight answered, then the
 * app's `appTerminate` hooks close its services.
 */
export async function startHost(core: FunctionsCore): Promise<RunningHost> {
  const root = appRoot();
  // Before any store opens: this thread's and the pipeline thread's SQLite writers take turns through it.
  const writeLocks = shareWriteLocks();
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
  const hostTopic = provideAppSettings(origin, topicKey, process.env);

  loadFunctionFiles(root);
  // POST /.auth/login/dev, with AUTH_MODE=development only.
  mountDevSignIn(http, settings, port, logger);
  // Only for the wake-up of the pipeline's change feeds when this thread appends (another connection's
  // appends are found by polling).
  const feedSource = openFeedSource(settings);
  await core.runHooks('appStart', { hookData: {}, appHookData: core.appHookData });
  const pipeline = new PipelineThread(logger, { topicKey, hostTopic, writeLocks, origin });
  // The topic (publish endpoint, local-only read routes) and the durable runtime's webhooks live on the
  // pipeline thread; this thread's functions reach the runtime through those webhooks, as on Azure.
  http.mount(
    '/eventgrid/',
    forwardTo(() => pipeline.port, logger),
  );
  http.mount(
    webhookPrefix,
    forwardTo(() => pipeline.port, logger, 'problem'),
  );
  supplyClientBindings(core, () => pipeline.durableClient());
  let ready;
  try {
    ready = await pipeline.start();
  } catch (err) {
    await http.close();
    throw err;
  }
  http.serveFunctions(core);
  const removeMarker =
    settings.EVENT_STORE === 'sqlite' ? writeHostMarker(settings.DATA_DIR, port) : () => {};
  const unsubscribe = feedSource.onAppended(() => pipeline.wake());
  logger.info('host', `${core.functions.size} functions: ${[...core.functions.keys()].join(', ')}`);
  logger.info('host', `pipeline thread: change feed into ${ready.feeds.join(', ')}; the local topic`);
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
  logger.info('host', `Event Grid topic ${origin}/eventgrid/api/events → ${ready.subscriptions.join(', ')}`);
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
      // The answers first: a request in flight may reach the durable runtime on the pipeline thread.
      unsubscribe();
      await http.close();
      await pipeline.stop();
      await core.runHooks('appTerminate', { hookData: {}, appHookData: core.appHookData });
      // What is still buffered (the last batches' spans, the metrics) is exported before the exit.
      await stopTelemetry();
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
