import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '@azure/cosmos';
import { cosmosConnection, cosmosNames } from '../../src/adapters/cosmos/containers';
import { cosmosConnectionOptions } from '../../src/config/connections';
import { cosmosDatabaseSetting, readSettings, SettingsError } from '../../src/config/settings';
import * as routes from '../../src/http/routes';
import { RouteSpec } from '../../src/http/routes';
import { openFeedSource } from '../../src/local/feedSource';
import {
  AppLoadReport,
  azureAppSettings,
  loadAppInChild,
  ReportedFunction,
  repoRoot,
  resolveAppSettingExpression,
} from '../support/loadApp';

/**
 * Issue 8, points 3 and 4: the built app (dist/, as `npm run build` leaves it) loaded in a fresh process as
 * the Functions host loads it on Azure: the functions core first, then every file of package.json `main`,
 * with the Azure app settings, `libsql` unresolvable (a package built on another platform has no binary for
 * this one) and every outbound connection refused. Every function must register with the options the
 * Functions host needs, and the services must build without libsql and without a request.
 */

/** One registration, as the table below states it. */
type Expected =
  | { kind: 'http'; route: RouteSpec; durableClient: boolean }
  | { kind: 'page'; name: string; route: string }
  | { kind: 'cosmosDB'; name: string; leaseContainerPrefix: string; durableClient: boolean }
  | { kind: 'eventGrid'; name: string }
  | { kind: 'orchestration'; name: string }
  | { kind: 'activity'; name: string };

const http = (route: RouteSpec, durableClient = false): Expected => ({ kind: 'http', route, durableClient });
const changeFeed = (name: string, leaseContainerPrefix: string, durableClient = false): Expected => ({
  kind: 'cosmosDB',
  name,
  leaseContainerPrefix,
  durableClient,
});
const page = (name: string, route: string): Expected => ({ kind: 'page', name, route });
const eventGrid = (name: string): Expected => ({ kind: 'eventGrid', name });
const orchestration = (name: string): Expected => ({ kind: 'orchestration', name });
const activity = (name: string): Expected => ({ kind: 'activity', name });

/**
 * Every function of the app, by the file of src/functions that registers it (counted from the sources):
 * 23 http routes and the 2 functions of the dashboard page, 6 change-feed functions, 2 Event Grid functions,
 * the orchestration and its 5 activities. HTTP names, methods and routes come from the route specs
 * (src/http/routes.ts), with the `api/` prefix (host.json's own prefix is empty, so the page has `/`). The other names are written
 * out, and so are the lease prefixes: on Azure a renamed activity or orchestration breaks the instances in
 * flight, whose history names it, and a changed lease prefix makes its function (startFromBeginning) process
 * the whole event history again.
 */
const registrations: Record<string, Expected[]> = {
  'analytics.js': [
    http(routes.funnelRoute),
    http(routes.funnelDropOffsRoute),
    http(routes.processMapRoute),
    http(routes.ocelRoute),
    changeFeed('orderJourneyProjection', 'orderJourney-'),
  ],
  'dashboard.js': [page('dashboard', '{file?}'), page('dashboardAssets', 'assets/{file}')],
  'customerNotifications.js': [eventGrid('customerNotifications'), http(routes.orderNotificationsRoute)],
  'eventGridRelay.js': [changeFeed('eventGridRelay', 'eventGrid-')],
  'eventLake.js': [changeFeed('eventLake', 'eventLake-')],
  'eventSchemas.js': [http(routes.eventSchemaRoute)],
  'health.js': [http(routes.healthRoute), http(routes.openApiRoute)],
  'orderAcceptance.js': [
    orchestration('orderAcceptance'),
    activity('orderAcceptance-validate'),
    activity('orderAcceptance-reserveStock'),
    activity('orderAcceptance-releaseStock'),
    activity('orderAcceptance-accept'),
    activity('orderAcceptance-reject'),
  ],
  'orderAcceptanceHttp.js': [http(routes.acceptanceStatusRoute, true), http(routes.approvalRoute, true)],
  'orderAcceptanceStarter.js': [changeFeed('orderAcceptanceStarter', 'acceptance-', true)],
  'orderEvents.js': [http(routes.orderEventsRoute)],
  'orderItems.js': [http(routes.addItemRoute), http(routes.removeItemRoute)],
  'orderLifecycle.js': [http(routes.submitOrderRoute), http(routes.cancelOrderRoute)],
  'overview.js': [http(routes.meRoute), http(routes.overviewRoute), http(routes.recentEventsRoute)],
  'orderProjection.js': [changeFeed('orderReadModelProjection', 'orderReadModel-')],
  'orders.js': [
    http(routes.createOrderRoute),
    http(routes.getOrderRoute),
    http(routes.listOrdersRoute),
    http(routes.importOrdersRoute),
  ],
  'stockCheck.js': [eventGrid('stockCheck'), http(routes.stockDemandRoute)],
  'stockRelease.js': [changeFeed('stockRelease', 'stockRelease-', true)],
};

const nameOf = (e: Expected): string => (e.kind === 'http' ? e.route.name : e.name);
const expectedByName = new Map(
  Object.entries(registrations).flatMap(([file, list]) =>
    list.map((e) => [nameOf(e), { ...e, file: `dist/src/functions/${file}` }] as const),
  ),
);
const triggerTypes: Record<Expected['kind'], string> = {
  http: 'httpTrigger',
  page: 'httpTrigger',
  cosmosDB: 'cosmosDBTrigger',
  eventGrid: 'eventGridTrigger',
  orchestration: 'orchestrationTrigger',
  activity: 'activityTrigger',
};

let report: AppLoadReport;
beforeAll(async () => {
  report = await loadAppInChild({
    root: repoRoot,
    settings: azureAppSettings,
    blockLibsql: true,
    buildServices: true,
  });
});

const byKind = (kind: Expected['kind']): ReportedFunction[] =>
  report.functions.filter((f) => expectedByName.get(f.name)?.kind === kind);

describe('the built app loaded as the Functions host loads it on Azure (fresh process, no libsql, no network)', () => {
  it('the table covers every function file of src/functions, and the host glob loads each and src/index.js', () => {
    const sources = readdirSync(join(repoRoot, 'src/functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, '.js'))
      .sort();
    expect(sources).toEqual(Object.keys(registrations).sort());
    expect(report.loadErrors).toEqual([]);
    expect(report.files).toEqual(
      [...sources.map((f) => `dist/src/functions/${f}`), 'dist/src/index.js'].sort(),
    );
    // src/index.ts registers no function but closes the services when the worker stops, and at start tells
    // how to sign in when the development sign-in is on (never on Azure).
    expect(report.hooks).toEqual({ appTerminate: 1, appStart: 1 });
  });

  it('registers every function of the table, from the file the table names, and nothing else', () => {
    const counts = new Map<string, number>();
    for (const fn of report.functions) counts.set(fn.trigger.type, (counts.get(fn.trigger.type) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      httpTrigger: 25,
      cosmosDBTrigger: 6,
      eventGridTrigger: 2,
      orchestrationTrigger: 1,
      activityTrigger: 5,
    });
    expect(report.functions.map((f) => f.name).sort()).toEqual([...expectedByName.keys()].sort());
    for (const fn of report.functions) {
      const expected = expectedByName.get(fn.name)!;
      expect({ name: fn.name, file: fn.file, trigger: fn.trigger.type }).toEqual({
        name: fn.name,
        file: expected.file,
        trigger: triggerTypes[expected.kind],
      });
    }
  });

  it('gives every http function the method and route of its route spec, anonymous, with an http output', () => {
    for (const fn of byKind('http')) {
      const expected = expectedByName.get(fn.name) as Extract<Expected, { kind: 'http' }>;
      expect(fn.trigger, fn.name).toMatchObject({
        direction: 'in',
        // The first route of each template also takes OPTIONS, the CORS preflight (issue 9).
        methods: routes.answersPreflight(expected.route)
          ? [expected.route.method, 'OPTIONS']
          : [expected.route.method],
        route: routes.functionRoute(expected.route),
        authLevel: 'anonymous',
      });
      expect(
        fn.outputs.map((b) => b.type),
        fn.name,
      ).toEqual(['http']);
      expect(
        fn.extraInputs.map((b) => b.type),
        fn.name,
      ).toEqual(expected.durableClient ? ['durableClient'] : []);
      expect(fn.retryOptions, fn.name).toBeUndefined();
    }
  });

  it('serves the dashboard page at / and /assets/{file} (GET and HEAD, anonymous), never under api/', () => {
    const pages = byKind('page');
    expect(pages.map((f) => f.name).sort()).toEqual(['dashboard', 'dashboardAssets']);
    for (const fn of pages) {
      const expected = expectedByName.get(fn.name) as Extract<Expected, { kind: 'page' }>;
      expect(fn.trigger, fn.name).toMatchObject({
        direction: 'in',
        methods: ['GET', 'HEAD'],
        route: expected.route,
        authLevel: 'anonymous',
      });
    }
    // Every API function's route starts with the API prefix, so none can take a page path.
    for (const fn of byKind('http')) expect(String(fn.trigger.route)).toMatch(/^api\//);
  });

  it('gives every cosmosDB trigger the COSMOS connection, the database setting, the events and leases containers and its own lease prefix', () => {
    const triggers = byKind('cosmosDB');
    for (const fn of triggers) {
      const expected = expectedByName.get(fn.name) as Extract<Expected, { kind: 'cosmosDB' }>;
      expect(fn.trigger, fn.name).toMatchObject({
        direction: 'in',
        connection: 'COSMOS',
        databaseName: '%COSMOS_DATABASE%',
        containerName: cosmosNames.events.id,
        leaseContainerName: cosmosNames.leases.id,
        leaseContainerPrefix: expected.leaseContainerPrefix,
        createLeaseContainerIfNotExists: false,
        startFromBeginning: true,
        maxItemsPerInvocation: 100,
      });
      expect(fn.trigger.connection).toBe(cosmosConnection);
      // Decision 4: without `retry` the trigger moves its lease past a failed batch. (How many retries is each
      // function's own policy: unlimited, or bounded where the function sets a failed batch aside itself.)
      expect(fn.retryOptions, fn.name).toMatchObject({ retryStrategy: 'exponentialBackoff' });
      const maxRetryCount = Number(fn.retryOptions?.maxRetryCount);
      expect(maxRetryCount === -1 || maxRetryCount > 0, `${fn.name} retries (${maxRetryCount})`).toBe(true);
      expect(
        fn.extraInputs.map((b) => b.type),
        fn.name,
      ).toEqual(expected.durableClient ? ['durableClient'] : []);
    }
    const prefixes = triggers.map((f) => f.trigger.leaseContainerPrefix);
    expect(new Set(prefixes).size).toBe(triggers.length);
  });

  it('registers the Event Grid functions, the orchestration and its activities with their own trigger types', () => {
    for (const kind of ['eventGrid', 'orchestration', 'activity'] as const) {
      for (const fn of byKind(kind)) {
        expect(fn.trigger.direction, fn.name).toBe('in');
        expect(fn.extraInputs, fn.name).toEqual([]);
      }
    }
  });

  it('never resolves nor loads libsql while loading the function files and building the services', () => {
    expect(report.libsql).toEqual({ requests: 0, requesters: [], loaded: [] });
  });

  it('builds the services on Cosmos DB and blob dead letters without sending any request', () => {
    expect(report.services).toMatchObject({
      ok: true,
      eventStore: 'cosmos',
      database: 'orders',
      kinds: {
        store: 'CosmosEventStore',
        readModel: 'CosmosOrderReadModel',
        idempotency: 'CosmosIdempotencyStore',
        deadLetters: 'BlobDeadLetterStore',
      },
    });
    expect(report.network).toEqual([]);
  });
});

describe('one setting names the database of the app and of its change-feed triggers', () => {
  it('every cosmosDB trigger reads its database from the very setting the settings schema reads', () => {
    const triggers = byKind('cosmosDB');
    expect(triggers).toHaveLength(6);
    for (const fn of triggers) expect(fn.trigger.databaseName, fn.name).toBe(`%${cosmosDatabaseSetting}%`);
    expect(readSettings({ ...azureAppSettings, [cosmosDatabaseSetting]: 'x' }).COSMOS_DATABASE).toBe('x');
  });

  it('refuses EVENT_STORE=cosmos without the database setting, naming it', () => {
    const { [cosmosDatabaseSetting]: _omitted, ...withoutDatabase } = azureAppSettings;
    expect(() => readSettings(withoutDatabase)).toThrow(SettingsError);
    expect(() => readSettings(withoutDatabase)).toThrow(new RegExp(`\\b${cosmosDatabaseSetting}\\b`));
  });

  it('resolves the trigger database to the one the app writes to and the local change feed reads', async () => {
    const env = { ...azureAppSettings, [cosmosDatabaseSetting]: 'orders-x' };
    const settings = readSettings(env);
    for (const fn of byKind('cosmosDB')) {
      // What the Functions host's trigger reads on Azure: the binding expression against the app settings.
      const triggerDatabase = resolveAppSettingExpression(String(fn.trigger.databaseName), env);
      expect(triggerDatabase, fn.name).toBe('orders-x');
      // What the app's own Cosmos DB connection writes to.
      expect(cosmosConnectionOptions(settings).database).toBe(triggerDatabase);
    }
    // What the local host's change feed reads (src/local/feedSource.ts): its events container, on a client of
    // its own. The store keeps the container private; its database id is what this checks (no request is sent).
    const feed = openFeedSource(settings);
    try {
      const events = (feed as unknown as { events: Container }).events;
      expect(events.database.id).toBe('orders-x');
      expect(events.id).toBe(cosmosNames.events.id);
    } finally {
      await feed.close();
    }
  });
});
