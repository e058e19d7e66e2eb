import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import { join } from 'node:path';
import { managedIdentityClientId, Settings, SettingsError } from './settings';

/**
 * The credential of every identity-based connection the app opens (Cosmos DB, Event Grid, Storage):
 * DefaultAzureCredential (the managed identity on Azure, developer credentials locally), pinned to the
 * user-assigned identity that AZURE_CLIENT_ID (or COSMOS__clientId) names
 * (docs/adr/0008-identity-not-keys.md).
 */
export function azureCredential(settings: Settings): TokenCredential {
  const clientId = managedIdentityClientId(settings);
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : undefined);
}

/**
 * How to reach Cosmos DB, from the settings: the key for an emulator or test server (COSMOS_ENDPOINT and
 * COSMOS_KEY), else the identity against COSMOS__accountEndpoint. The shape is the Cosmos adapter's
 * `CosmosConnectionOptions`.
 */
export function cosmosConnectionOptions(settings: Settings) {
  return {
    endpoint: (settings.COSMOS_ENDPOINT ?? settings.COSMOS__accountEndpoint)!,
    key: settings.COSMOS_KEY,
    credential: settings.COSMOS_KEY ? undefined : azureCredential(settings),
    database: settings.COSMOS_DATABASE!,
    tlsInsecure: settings.COSMOS_TLS_INSECURE,
  };
}

/**
 * Where dead letters go, from the settings (the shape of `DeadLetterTarget` in
 * src/adapters/deadLetterStores.ts): DEAD_LETTERS=files (default) → DATA_DIR/dead-letters; DEAD_LETTERS=blob →
 * the container DEAD_LETTERS_CONTAINER through DEAD_LETTERS_STORAGE (Azurite's development storage, which
 * wins, as the Functions host reads a connection `X` before `X__blobServiceUri`) or
 * DEAD_LETTERS_STORAGE__blobServiceUri with the identity.
 * @throws SettingsError when DEAD_LETTERS=blob lacks a usable connection setting
 */
export function deadLetterTarget(settings: Settings) {
  const container = settings.DEAD_LETTERS_CONTAINER;
  if (settings.DEAD_LETTERS !== 'blob') {
    return { kind: 'files' as const, folder: join(settings.DATA_DIR, 'dead-letters') };
  }
  if (settings.DEAD_LETTERS_STORAGE) {
    return { kind: 'development' as const, container, connectionString: settings.DEAD_LETTERS_STORAGE };
  }
  if (settings.DEAD_LETTERS_STORAGE__blobServiceUri) {
    const serviceUri = settings.DEAD_LETTERS_STORAGE__blobServiceUri;
    return { kind: 'blob' as const, container, serviceUri, credential: azureCredential(settings) };
  }
  throw new SettingsError(
    'invalid settings: DEAD_LETTERS=blob needs DEAD_LETTERS_STORAGE__blobServiceUri (identity) or DEAD_LETTERS_STORAGE (Azurite)',
  );
}

/**
 * Where the event lake goes, from the settings (the shape of `LakeTargetSpec` in src/adapters/lake/lakeTargets.ts):
 * EVENT_LAKE=files (default) → EVENT_LAKE_FOLDER, else DATA_DIR/lake; EVENT_LAKE=blob → the container
 * EVENT_LAKE_CONTAINER through EVENT_LAKE_STORAGE (Azurite's development storage, which wins, as for dead letters)
 * or EVENT_LAKE__blobServiceUri with the identity.
 * @throws SettingsError when EVENT_LAKE=blob lacks a usable connection setting
 */
export function lakeTarget(settings: Settings) {
  const container = settings.EVENT_LAKE_CONTAINER;
  if (settings.EVENT_LAKE !== 'blob') {
    return { kind: 'files' as const, folder: settings.EVENT_LAKE_FOLDER ?? join(settings.DATA_DIR, 'lake') };
  }
  if (settings.EVENT_LAKE_STORAGE) {
    return { kind: 'development' as const, container, connectionString: settings.EVENT_LAKE_STORAGE };
  }
  if (settings.EVENT_LAKE__blobServiceUri) {
    const serviceUri = settings.EVENT_LAKE__blobServiceUri;
    return { kind: 'blob' as const, container, serviceUri, credential: azureCredential(settings) };
  }
  throw new SettingsError(
    'invalid settings: EVENT_LAKE=blob needs EVENT_LAKE__blobServiceUri (identity) or EVENT_LAKE_STORAGE (Azurite)',
  );
}
