import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosmosContainerDefinitions } from '../../src/adapters/cosmos/containers';
import { eventSubscriptions, includedEventTypes, SubscriberName } from '../../src/app/subscriptions';
import { cosmosConnectionOptions, deadLetterTarget } from '../../src/config/connections';
import { functionsHostSettings, platformSettings } from '../../src/config/hostSettings';
import { authModeOf, managedIdentityClientId, readSettings, settingsSchema } from '../../src/config/settings';
import { AppLoadReport, loadAppInChild, repoRoot } from '../support/loadApp';
import { PredictedResource, Snapshot } from './policies';

/**
 * The configuration contract between Bicep and the code: the app settings Bicep sets are exactly what the
 * code and the Functions host read on Azure, and the containers and subscriptions Bicep creates are the
 * code's own declarations. Read from the committed snapshots, which bicep.spec.ts proves current.
 */
const read = (file: string): Snapshot =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Snapshot) : { predictedResources: [] };
const main = read('infra/main.snapshot.json');
const subscriptionsSnapshot = read('infra/subscriptions.snapshot.json');
const resources = [...main.predictedResources, ...subscriptionsSnapshot.predictedResources];
const ofType = (type: string) => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());

const functionApp = (): PredictedResource => {
  const sites = ofType('Microsoft.Web/sites').filter((r) => String(r.kind ?? '').includes('functionapp'));
  expect(sites).toHaveLength(1);
  return sites[0];
};
const bicepAppSettings = (): { name: string; value: unknown }[] =>
  (functionApp().properties?.siteConfig as { appSettings: { name: string; value: unknown }[] }).appSettings;

/**
 * The settings with every ARM expression (`[reference(...)...]`, unknown until deployment) replaced by a
 * placeholder of the right kind: the same expression always by the same value (so two settings naming one
 * identity stay equal), an https URL where the setting is an endpoint or URI.
 */
function withPlaceholders(settings: { name: string; value: unknown }[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, value } of settings) {
    const text = String(value);
    if (!text.startsWith('[')) {
      env[name] = text;
      continue;
    }
    const h = createHash('sha256').update(text).digest('hex').slice(0, 12);
    env[name] = /endpoint|uri/i.test(name) ? `https://e${h}.example.invalid/` : `e${h}`;
  }
  return env;
}
const onAzure = (): Record<string, string> => ({
  ...withPlaceholders(bicepAppSettings()),
  WEBSITE_SITE_NAME: 'func-placeholder',
  WEBSITE_HOSTNAME: 'func-placeholder.azurewebsites.net',
  WEBSITE_AUTH_ENABLED: 'True',
});

describe('the app settings Bicep sets are what the code reads on Azure', () => {
  it('sets no setting that neither the code nor the Functions host reads', () => {
    const known = new Set<string>([...Object.keys(settingsSchema.shape), ...functionsHostSettings]);
    const unused = bicepAppSettings()
      .map((s) => s.name)
      .filter((n) => !known.has(n));
    expect(unused).toEqual([]);
  });

  it('sets no setting twice and none the platform sets itself', () => {
    const names = bicepAppSettings().map((s) => s.name);
    expect(names.filter((n, k) => names.indexOf(n) !== k)).toEqual([]);
    expect(names.filter((n) => (platformSettings as readonly string[]).includes(n))).toEqual([]);
  });

  it('sets every setting the Functions host reads', () => {
    const names = new Set(bicepAppSettings().map((s) => s.name));
    expect(functionsHostSettings.filter((n) => !names.has(n))).toEqual([]);
  });

  it('parse as valid settings that select Cosmos DB, the identity, Event Grid, blob dead letters and App Service sign-in', () => {
    const settings = readSettings(onAzure());
    expect(settings.EVENT_STORE).toBe('cosmos');
    expect(managedIdentityClientId(settings)).toBeDefined();
    const cosmos = cosmosConnectionOptions(settings);
    expect(cosmos.key).toBeUndefined();
    expect(cosmos.credential).toBeDefined();
    expect(settings.EVENTGRID_TOPIC_ENDPOINT).toBeDefined();
    expect(settings.EVENTGRID_TOPIC_KEY).toBeUndefined();
    expect(deadLetterTarget(settings).kind).toBe('blob');
    expect(authModeOf(settings)).toBe('appservice');
    expect(settings.AZURE_CLIENT_ID).toBe(settings.COSMOS__clientId);
  });

  it('gives the Functions host an identity-based storage and telemetry connection for the same identity', () => {
    const env = onAzure();
    expect(env.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(env.COSMOS__credential).toBe('managedidentity');
    expect(env.AzureWebJobsStorage__clientId).toBe(env.AZURE_CLIENT_ID);
    expect(
      String(bicepAppSettings().find((s) => s.name === 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING')?.value),
    ).toMatch(/Authorization=AAD/);
  });

  describe('the functions loaded with exactly these settings', () => {
    let report: AppLoadReport;
    beforeAll(async () => {
      report = await loadAppInChild({
        root: repoRoot,
        settings: onAzure(),
        blockLibsql: true,
        buildServices: true,
      });
    });

    it('load and build their services on Cosmos DB', () => {
      expect(report.loadErrors).toEqual([]);
      expect(report.services).toMatchObject({ ok: true, eventStore: 'cosmos' });
    });

    it('include an Event Grid-triggered function for each function subscription, and no other', () => {
      const triggered = report.functions
        .filter((f) => f.trigger.type === 'eventGridTrigger')
        .map((f) => f.name)
        .sort();
      const subscribed = (Object.keys(eventSubscriptions) as SubscriberName[])
        .filter((n) => eventSubscriptions[n].destination === 'function')
        .sort();
      expect(triggered).toEqual(subscribed);
    });

    it('find every setting their bindings name (%SETTING% expressions and connection prefixes)', () => {
      const env = onAzure();
      const hostJson = readFileSync('host.json', 'utf8');
      const bindingText = JSON.stringify(report.functions.map((f) => [f.trigger, f.extraInputs, f.outputs]));
      const expressions = [...`${hostJson}${bindingText}`.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]);
      expect(expressions.length).toBeGreaterThan(0);
      expect([...new Set(expressions)].filter((n) => !(n in env))).toEqual([]);
      const connections = report.functions
        .map((f) => f.trigger.connection)
        .filter((c): c is string => typeof c === 'string');
      expect(connections.length).toBeGreaterThan(0);
      // An identity-based connection is a setting group: `<connection>__accountEndpoint` for Cosmos DB.
      expect([...new Set(connections)].filter((c) => !(`${c}__accountEndpoint` in env))).toEqual([]);
    });
  });
});

describe('the resources Bicep creates are the code declarations', () => {
  it('creates every Cosmos DB container of the code, with its partition key, indexing and time to live, and no other', () => {
    const containers = ofType('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers').map(
      (r) => (r.properties as { resource: Record<string, unknown> }).resource,
    );
    const declared = cosmosContainerDefinitions();
    expect(containers.map((c) => c.id).sort()).toEqual(declared.map((d) => d.id).sort());
    for (const d of declared) {
      const c = containers.find((x) => x.id === d.id)!;
      expect(c.partitionKey, d.id).toMatchObject({ paths: d.partitionKey!.paths });
      expect(c.indexingPolicy, d.id).toEqual(d.indexingPolicy);
      expect(c.defaultTtl, d.id).toEqual(d.defaultTtl);
    }
  });

  it('subscribes each consumer of src/app/subscriptions.ts to exactly its event types, and nothing else', () => {
    const typePrefix = readSettings(onAzure()).CLOUDEVENTS_TYPE_PREFIX;
    const subs = ofType('Microsoft.EventGrid/topics/eventSubscriptions').map((r) => ({
      name: r.name.split('/').pop()!,
      types:
        (r.properties as { filter?: { includedEventTypes?: string[] } }).filter?.includedEventTypes ?? [],
      destination: (
        r.properties as { destination: { endpointType: string; properties?: { resourceId?: string } } }
      ).destination,
    }));
    const declared = Object.keys(eventSubscriptions) as SubscriberName[];
    expect(subs.map((s) => s.name).sort()).toEqual([...declared].sort());
    for (const name of declared) {
      const s = subs.find((x) => x.name === name)!;
      expect(s.types, name).toEqual(includedEventTypes(name, typePrefix));
      const kind = eventSubscriptions[name].destination;
      expect(s.destination.endpointType, name).toBe(kind === 'function' ? 'AzureFunction' : 'WebHook');
      if (kind === 'function')
        expect(String(s.destination.properties?.resourceId)).toMatch(
          new RegExp(`/functions/${name}'?\\)?\\]?$`),
        );
    }
  });
});
