import type { DefaultAzureCredentialClientIdOptions } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createServices } from '../../src/composition/services';
import { azureCredential, cosmosConnectionOptions } from '../../src/config/connections';
import { readSettings, SettingsError } from '../../src/config/settings';
import { azureAppSettings } from '../support/loadApp';

/**
 * Issue 8, point 4: one client-id setting (AZURE_CLIENT_ID) pins every credential the app builds, for Cosmos DB,
 * Event Grid and Storage, to the app's user-assigned identity. `DefaultAzureCredential` exposes nothing of
 * its options, so the real class is subclassed to record them; the Event Grid client is replaced by one that
 * records its credential and sends nothing. No request leaves this process.
 */

const recorded = vi.hoisted(() => ({
  credentials: [] as { instance: object; options: unknown }[],
  eventGridClients: [] as { endpoint: string; credential: unknown }[],
}));

vi.mock('@azure/identity', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@azure/identity')>();
  /** The real DefaultAzureCredential, recording what it was created with. */
  class RecordingDefaultAzureCredential extends actual.DefaultAzureCredential {
    constructor(options?: DefaultAzureCredentialClientIdOptions) {
      // A copy as given: the SDK adds its own defaults (retries, probe) to the object it receives.
      const given = options === undefined ? undefined : { ...options };
      super(options);
      recorded.credentials.push({ instance: this, options: given });
    }
  }
  return { ...actual, DefaultAzureCredential: RecordingDefaultAzureCredential };
});

vi.mock('@azure/eventgrid', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@azure/eventgrid')>();
  /** Stands in for EventGridPublisherClient: records its endpoint and credential, sends nothing. */
  class RecordingPublisherClient {
    constructor(endpoint: string, _inputSchema: string, credential: unknown) {
      recorded.eventGridClients.push({ endpoint, credential });
    }
    async send(): Promise<void> {}
  }
  return { ...actual, EventGridPublisherClient: RecordingPublisherClient };
});

const clientId = azureAppSettings.AZURE_CLIENT_ID;
/** The options the given credential was created with; fails when it is not a recorded DefaultAzureCredential. */
const optionsOf = (credential: unknown): unknown => {
  const entry = recorded.credentials.find((c) => c.instance === credential);
  expect(entry, 'a DefaultAzureCredential built by the app').toBeDefined();
  return entry!.options;
};

beforeEach(() => {
  recorded.credentials.length = 0;
  recorded.eventGridClients.length = 0;
});

describe('the user-assigned identity named by AZURE_CLIENT_ID', () => {
  it('azureCredential creates DefaultAzureCredential with managedIdentityClientId = AZURE_CLIENT_ID', () => {
    const { COSMOS__clientId: _trigger, ...settings } = azureAppSettings;
    const credential = azureCredential(readSettings(settings));
    expect(optionsOf(credential)).toEqual({ managedIdentityClientId: clientId });
  });

  it("the app's Cosmos DB connection authenticates with that identity, never a key", () => {
    const options = cosmosConnectionOptions(readSettings(azureAppSettings));
    expect(options).toMatchObject({ endpoint: azureAppSettings.COSMOS__accountEndpoint, key: undefined });
    expect(optionsOf(options.credential)).toEqual({ managedIdentityClientId: clientId });
  });

  it('the services give that identity to Cosmos DB, to the dead-letter Storage and to the Event Grid publisher', async () => {
    const services = createServices(readSettings(azureAppSettings));
    try {
      // BlobDeadLetterStore keeps its ContainerClient private; the SDK's `credential` on it is public.
      const container = (services.deadLetters as unknown as { container: ContainerClient }).container;
      expect(container.url).toMatch(/^https:\/\/x\.blob\.core\.windows\.net\//);
      expect(optionsOf(container.credential)).toEqual({ managedIdentityClientId: clientId });

      // The publisher is built on first use.
      expect(recorded.eventGridClients).toEqual([]);
      await services.publisher.publish([]);
      expect(recorded.eventGridClients).toHaveLength(1);
      const [eventGrid] = recorded.eventGridClients;
      expect(eventGrid.endpoint).toBe(azureAppSettings.EVENTGRID_TOPIC_ENDPOINT);
      expect(optionsOf(eventGrid.credential)).toEqual({ managedIdentityClientId: clientId });

      // Cosmos DB, Storage, Event Grid: each credential the app built names the same identity.
      expect(recorded.credentials.map((c) => c.options)).toEqual([
        { managedIdentityClientId: clientId },
        { managedIdentityClientId: clientId },
        { managedIdentityClientId: clientId },
      ]);
    } finally {
      await services.close();
    }
  });

  it("falls back to the trigger connection's COSMOS__clientId when AZURE_CLIENT_ID is unset", () => {
    const { AZURE_CLIENT_ID: _app, ...settings } = azureAppSettings;
    const credential = azureCredential(readSettings({ ...settings, COSMOS__clientId: 'only-trigger-id' }));
    expect(optionsOf(credential)).toEqual({ managedIdentityClientId: 'only-trigger-id' });
  });

  it('refuses a COSMOS__clientId that names another identity than AZURE_CLIENT_ID, naming it', () => {
    const settings = { ...azureAppSettings, COSMOS__clientId: '11111111-1111-1111-1111-111111111111' };
    expect(() => readSettings(settings)).toThrow(SettingsError);
    expect(() => readSettings(settings)).toThrow(
      /COSMOS__clientId: must name the same identity as AZURE_CLIENT_ID/,
    );
  });
});
