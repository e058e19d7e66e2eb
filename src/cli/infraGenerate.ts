/**
 * `npm run infra:generate`: writes the declarations Bicep loads (`loadJsonContent`) from the code's own, so
 * the deployed resources cannot drift from what the code expects:
 * - infra/generated/cosmos-containers.json: every container (src/adapters/cosmos/containers.ts) as the
 *   `resource` of `Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers`;
 * - infra/generated/event-subscriptions.json: every Event Grid subscription (src/app/subscriptions.ts) with
 *   its `includedEventTypes` under the default CLOUDEVENTS_TYPE_PREFIX.
 * - infra/generated/telemetry.json: every metric the code emits (src/shared/telemetryNames.ts), for the alerts
 *   and workbook queries;
 * - infra/generated/app-roles.json: the app roles (src/http/identity.ts) in the shape of an Entra ID
 *   application's `appRoles`, with ids derived from the role's value so they never change.
 * `--check` writes nothing and exits 1 when a committed file differs (test/infra/declarations.spec.ts runs it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cosmosContainerDefinitions, cosmosNames } from '../adapters/cosmos/containers';
import { eventSubscriptions, includedEventTypes, SubscriberName } from '../app/subscriptions';
import { settingsSchema } from '../config/settings';
import { metricDefinitions } from '../shared/telemetryNames';
import { appRoleDescriptions, appRoles } from '../shared/appRoles';
import { createHash } from 'node:crypto';

/** The default CloudEvent `type` prefix, read from the settings schema so there is one default. */
const defaultTypePrefix = (): string => settingsSchema.parse({}).CLOUDEVENTS_TYPE_PREFIX;

/** The containers in the ARM shape (`kind: 'Hash'`; `version` 2 where the code asks for it). */
export function containersDeclaration() {
  return {
    database: cosmosNames.database,
    containers: cosmosContainerDefinitions().map((c) => ({
      id: c.id!,
      partitionKey: {
        paths: c.partitionKey!.paths,
        kind: 'Hash',
        ...(c.partitionKey!.version ? { version: c.partitionKey!.version } : {}),
      },
      ...(c.indexingPolicy ? { indexingPolicy: c.indexingPolicy } : {}),
      ...(c.defaultTtl !== undefined ? { defaultTtl: c.defaultTtl } : {}),
    })),
  };
}

/** The subscriptions: name, destination kind and the exact CloudEvent types each receives. */
export function subscriptionsDeclaration() {
  const typePrefix = defaultTypePrefix();
  return {
    typePrefix,
    subscriptions: (Object.keys(eventSubscriptions) as SubscriberName[]).map((name) => ({
      name,
      destination: eventSubscriptions[name].destination,
      includedEventTypes: includedEventTypes(name, typePrefix),
    })),
  };
}

/**
 * A stable GUID for a role: the first 16 bytes of SHA-256 of its value, with the version (8, custom) and
 * variant bits of RFC 9562 section 5.8 set, so re-running the generator (or the hook) never changes an id.
 */
export function appRoleId(value: string): string {
  const b = createHash('sha256').update(`order-service app role ${value}`).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The app roles in the shape of Microsoft Graph `appRole` (learn.microsoft.com/graph/api/resources/approle). */
export function appRolesDeclaration() {
  return appRoles.map((value) => ({
    id: appRoleId(value),
    value,
    displayName: appRoleDescriptions[value].displayName,
    description: appRoleDescriptions[value].description,
    allowedMemberTypes: ['User', 'Application'],
    isEnabled: true,
  }));
}

/** File path (relative to the repository root) → content, as written. */
export function generatedFiles(): Map<string, string> {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return new Map([
    ['infra/generated/cosmos-containers.json', json(containersDeclaration())],
    ['infra/generated/event-subscriptions.json', json(subscriptionsDeclaration())],
    ['infra/generated/telemetry.json', json({ metrics: metricDefinitions })],
    ['infra/generated/app-roles.json', json(appRolesDeclaration())],
  ]);
}

/** The generated files whose committed content differs from the code's declarations. */
export function staleFiles(root: string): string[] {
  const stale: string[] = [];
  for (const [path, content] of generatedFiles()) {
    let committed: string | undefined;
    try {
      committed = readFileSync(join(root, path), 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== content) stale.push(path);
  }
  return stale;
}

function main(): void {
  const root = process.cwd();
  if (process.argv.includes('--check')) {
    const stale = staleFiles(root);
    for (const path of stale) console.error(`${path} differs from the code: run npm run infra:generate`);
    process.exitCode = stale.length ? 1 : 0;
    return;
  }
  for (const [path, content] of generatedFiles()) {
    writeFileSync(join(root, path), content);
    console.log(`wrote ${path}`);
  }
}

if (require.main === module) main();
