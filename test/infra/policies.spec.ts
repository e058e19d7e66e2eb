import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policies, PredictedResource, Snapshot } from './policies';

/**
 * The committed deployment snapshots (`npm run infra:snapshot`; bicep.spec.ts proves they are current) obey
 * every policy of test/infra/policies.ts, and each policy reports a violation planted in a copy.
 */
const snapshotFiles = ['infra/main.snapshot.json', 'infra/subscriptions.snapshot.json'].filter((f) =>
  existsSync(f),
);
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
/** Both snapshots as one deployment: main provisions, the postdeploy hook adds the function subscriptions. */
const deployment = (): Snapshot => {
  const parts = snapshotFiles.map(read);
  return {
    predictedResources: parts.flatMap((p) => p.predictedResources),
    outputs: Object.assign({}, ...parts.map((p) => p.outputs ?? {})) as Record<string, unknown>,
  };
};

const policy = (name: string) => {
  const p = policies.find((x) => x.name === name);
  if (!p) throw new Error(`no policy named ${name}`);
  return p;
};

/** A copy of the deployment with `change` applied to the first resource of `type`. */
function planted(type: string, change: (r: PredictedResource) => void): Snapshot {
  const copy = structuredClone(deployment());
  const target = copy.predictedResources.find((r) => r.type.toLowerCase() === type.toLowerCase());
  if (!target) throw new Error(`the deployment has no ${type} to plant a violation in`);
  change(target);
  return copy;
}
const set = (path: string[], value: unknown) => (r: PredictedResource) => {
  let o = (r.properties ??= {}) as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[path[path.length - 1]] = value;
};

describe('the deployment obeys the policies', () => {
  it('has the snapshot of main.bicep and of the subscriptions', () => {
    expect(snapshotFiles).toEqual(['infra/main.snapshot.json', 'infra/subscriptions.snapshot.json']);
  });

  for (const p of policies) {
    it(p.name, () => {
      expect(p.check(deployment())).toEqual([]);
    });
  }
});

describe('each policy reports a planted violation', () => {
  const cases: [string, () => Snapshot][] = [
    [
      'storage accounts require TLS 1.2',
      () => planted('Microsoft.Storage/storageAccounts', set(['minimumTlsVersion'], 'TLS1_0')),
    ],
    [
      'storage accounts allow no public blob access',
      () => planted('Microsoft.Storage/storageAccounts', set(['allowBlobPublicAccess'], true)),
    ],
    [
      'storage accounts refuse shared keys',
      () => planted('Microsoft.Storage/storageAccounts', set(['allowSharedKeyAccess'], true)),
    ],
    [
      'storage accounts take HTTPS only',
      () => planted('Microsoft.Storage/storageAccounts', set(['supportsHttpsTrafficOnly'], false)),
    ],
    [
      'Cosmos DB requires TLS 1.2',
      () => planted('Microsoft.DocumentDB/databaseAccounts', set(['minimalTlsVersion'], 'Tls')),
    ],
    [
      'Cosmos DB has local (key) auth disabled',
      () => planted('Microsoft.DocumentDB/databaseAccounts', set(['disableLocalAuth'], false)),
    ],
    [
      'Event Grid topics have local (key) auth disabled',
      () => planted('Microsoft.EventGrid/topics', set(['disableLocalAuth'], false)),
    ],
    [
      'Event Grid topics take CloudEvents 1.0',
      () => planted('Microsoft.EventGrid/topics', set(['inputSchema'], 'EventGridSchema')),
    ],
    [
      'Application Insights has local auth disabled',
      () => planted('Microsoft.Insights/components', set(['DisableLocalAuth'], false)),
    ],
    ['sites are HTTPS only', () => planted('Microsoft.Web/sites', set(['httpsOnly'], false))],
    [
      'sites require TLS 1.2',
      () => planted('Microsoft.Web/sites', set(['siteConfig', 'minTlsVersion'], '1.0')),
    ],
    [
      'there is one of each resource the system needs',
      () => {
        const copy = structuredClone(deployment());
        copy.predictedResources = copy.predictedResources.filter(
          (r) => r.type !== 'Microsoft.EventGrid/topics',
        );
        return copy;
      },
    ],
    [
      'the events container is partitioned by /orderId and the leases by /id',
      () => {
        const copy = structuredClone(deployment());
        const events = copy.predictedResources.find(
          (r) => (r.properties?.resource as { id?: string } | undefined)?.id === 'events',
        )!;
        set(['resource', 'partitionKey', 'paths'], ['/customerId'])(events);
        return copy;
      },
    ],
    [
      'event subscriptions deliver CloudEvents 1.0 and dead-letter with an identity',
      () =>
        planted(
          'Microsoft.EventGrid/topics/eventSubscriptions',
          set(['eventDeliverySchema'], 'EventGridSchema'),
        ),
    ],
    [
      'role assignments grant only least-privilege built-in roles',
      () =>
        planted(
          'Microsoft.Authorization/roleAssignments',
          // Contributor: control of every resource in scope.
          set(
            ['roleDefinitionId'],
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')]",
          ),
        ),
    ],
    [
      'Cosmos DB data-plane roles are built-in data roles',
      () =>
        planted(
          'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments',
          set(['roleDefinitionId'], '/sqlRoleDefinitions/11111111-2222-3333-4444-555555555555'),
        ),
    ],
    [
      'no output carries a secret',
      () => {
        const copy = structuredClone(deployment());
        copy.outputs = {
          ...copy.outputs,
          storageKey:
            "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), '2023-05-01').keys[0].value]",
        };
        return copy;
      },
    ],
    [
      'no app setting carries a key, signed URL or secret',
      () =>
        planted('Microsoft.Web/sites', (r) => {
          const settings = (r.properties!.siteConfig as { appSettings: { name: string; value: string }[] })
            .appSettings;
          settings.push({ name: 'COSMOS_KEY', value: 'planted' });
        }),
    ],
  ];

  it('has a planted violation for every policy', () => {
    expect(cases.map(([name]) => name).sort()).toEqual(policies.map((p) => p.name).sort());
  });

  for (const [name, plant] of cases) {
    it(`reports: ${name}`, () => {
      expect(policy(name).check(plant()).length).toBeGreaterThan(0);
    });
  }
});
