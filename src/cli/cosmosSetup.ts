/**
 * `npm run cosmos:setup`: creates the database and every container (partition keys, indexing policies and
 * time to live from src/adapters/cosmos/containers.ts) for local development, against the COSMOS_* settings of the
 * environment or `local.settings.json`. Idempotent: what exists is left as it is.
 *
 * On Azure the same resources are declared in Bicep: with identity (RBAC data-plane roles) an application may
 * not create databases or containers, so this command is for key-based connections (emulator, test server).
 */
import { CosmosClient } from '@azure/cosmos';
import { cosmosContainerDefinitions } from '../adapters/cosmos/containers';
import { readSettings, SettingsError } from '../config/settings';
import { loadLocalSettings } from '../config/localSettingsFile';
import { cosmosConnectionOf } from '../composition/cosmosStores';

/** What `ensureCosmosResources` did, resource by resource. */
export interface SetupReport {
  database: { id: string; created: boolean };
  containers: { id: string; created: boolean }[];
}

/**
 * Creates the database and the containers that do not exist yet.
 * @throws the SDK's ErrorResponse when Cosmos DB refuses (e.g. 403 for an identity without control-plane rights)
 */
export async function ensureCosmosResources(client: CosmosClient, databaseId: string): Promise<SetupReport> {
  const db = await client.databases.createIfNotExists({ id: databaseId });
  const report: SetupReport = {
    database: { id: databaseId, created: db.statusCode === 201 },
    containers: [],
  };
  for (const definition of cosmosContainerDefinitions()) {
    const c = await db.database.containers.createIfNotExists(definition);
    report.containers.push({ id: definition.id!, created: c.statusCode === 201 });
  }
  return report;
}

async function main(): Promise<void> {
  loadLocalSettings(process.cwd());
  const settings = readSettings({ EVENT_STORE: 'cosmos', ...process.env });
  const connection = cosmosConnectionOf(settings);
  const client = connection.client;
  try {
    const report = await ensureCosmosResources(client, settings.COSMOS_DATABASE!);
    const state = (created: boolean) => (created ? 'created' : 'exists');
    process.stdout.write(`database ${report.database.id}: ${state(report.database.created)}\n`);
    for (const c of report.containers) process.stdout.write(`  container ${c.id}: ${state(c.created)}\n`);
  } finally {
    client.dispose();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const message =
      err instanceof SettingsError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`cosmos setup failed: ${message}\n`);
    process.exit(1);
  });
}
