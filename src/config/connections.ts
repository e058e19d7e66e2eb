import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import { managedIdentityClientId, Settings } from './settings';

/**
 * The credential of every identity-based connection the app opens (Cosmos DB, Event Grid, Storage):
 * DefaultAzureCredential (the managed identity on Azure, developer credentials locally), pinned to the
 * user-assigned identity that AZURE_CLIENT_ID (or COSMOS__clientId) names.
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
