import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { closeEventing } from '../app/eventing';
import { readEventGridSettings } from '../app/eventGridSettings';
import { closeServices, getServices } from '../app/services';
import { readSettings } from '../app/settings';
import { LocalChangeFeed } from './changeFeed';
import { createDurableRuntime } from './durable';
import { createLocalTopic } from './eventGrid/setup';
import { FunctionsCore } from './functionsCore';
import { writeHostMarker } from './hostMarker';
import { LocalHttpServer } from './httpServer';
import { loadLocalSettings } from './localSettings';
import { Logger } from './logger';

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

export interface RunningHost {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the local host: settings, function files, HTTP on `/api`, the embedded change feed into every
 * cosmosDB-trigger function, the local Event Grid topic delivering to eventGrid-trigger functions and
 * webhooks. SIGINT/SIGTERM stop it gracefully: the change-feed batches in flight finish and checkpoint,
 * no new requests, requests in flight answered, deliveries in flight finish, then the stores close.
 */
export async function startHost(core: FunctionsCore): Promise<RunningHost> {
  const root = appRoot();
  loadLocalSettings(root);
  const settings = readSettings();
  const logger = new Logger(settings.LOG_LEVEL);
  loadFunctionFiles(root);
  // The request charge of every Cosmos DB operation, at debug level (LOG_LEVEL=debug shows it).
  const services = getServices({
    onRequestCharge: (operation, ru) => logger.debug('cosmos', `${operation}: ${ru} RU`),
  });

  const retryScale = readEventGridSettings().LOCAL_RETRY_SCALE;

  const http = new LocalHttpServer(core, logger);
  const durable = createDurableRuntime(core, http, logger, settings.DATA_DIR);
  const local = createLocalTopic(core, settings.DATA_DIR, logger);
  http.mount('/eventgrid/', local.topic.handle);
  const feeds = core.byTrigger('cosmosDBTrigger').map(
    (fn) =>
      new LocalChangeFeed(fn, services.store, logger, {
        pollMs: settings.LOCAL_CHANGE_FEED_POLL_MS,
        retryScale,
      }),
  );
  await core.runHooks('appStart', { hookData: {}, appHookData: {} });
  const port = await http.listen(settings.PORT);
  durable.start(`http://127.0.0.1:${port}`);
  process.env.PORT = String(port);
  const removeMarker =
    settings.EVENT_STORE === 'sqlite' ? writeHostMarker(settings.DATA_DIR, port) : () => {};
  local.pointPublisherAt(port);
  local.topic.start();
  feeds.forEach((f) => f.start());
  services.store.onAppended(() => feeds.forEach((f) => f.wake()));
  logger.info('host', `${core.functions.size} functions: ${[...core.functions.keys()].join(', ')}`);
  if (settings.EVENT_STORE === 'cosmos') {
    const endpoint = settings.COSMOS_ENDPOINT ?? settings.COSMOS__accountEndpoint;
    logger.info('host', `event store: cosmos at ${endpoint}, database ${settings.COSMOS_DATABASE}`);
    if (settings.COSMOS_FEED_MODE === 'test-server-scan') {
      // See FeedMode in src/store/cosmos/cosmosEventStore.ts: the test server's change feed is a stub.
      logger.warn(
        'host',
        'change feed: test-server-scan (a query in insertion order), not the Cosmos DB change feed',
      );
    }
  } else {
    logger.info('host', `event store: ${settings.EVENT_STORE}, data in ${resolve(settings.DATA_DIR)}`);
  }
  logger.info(
    'host',
    `Event Grid topic http://127.0.0.1:${port}/eventgrid/api/events → ${local.topic.subscriptionNames.join(', ')}`,
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('host', 'stopping: no new requests; finishing what is in flight');
      // Feeds first: the relay's batch in flight publishes through this host's own topic endpoint.
      await Promise.all(feeds.map((f) => f.stop()));
      await http.close();
      await durable.stop();
      await local.topic.stop();
      await core.runHooks('appTerminate', { hookData: {}, appHookData: {} });
      closeEventing();
      local.db.close();
      await closeServices();
      removeMarker();
      logger.info('host', 'stopped');
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: a second signal while draining must not kill the process half-way.
    process.on(signal, () => void stop().then(() => process.exit(0)));
  }
  // Signals are handled before the host says it listens, so whoever waits for that line can stop it.
  logger.info('host', `listening on http://127.0.0.1:${port}/api`);

  return { port, stop };
}
