import * as storageBlob from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobDeadLetterStore } from '../../src/adapters/blob/blobDeadLetterStore';
import { FileDeadLetterStore } from '../../src/adapters/fs/fileDeadLetterStore';
import { deadLetterStore, developmentStorageClient } from '../../src/composition/deadLetters';
import { readSettings } from '../../src/config/settings';
import { AzuriteBlob, startAzuriteBlob } from '../support/azurite';
import { deadLetterStoreContract, letter, newChannel } from './deadLettersContract';

let azurite: Promise<AzuriteBlob> | undefined;
/** One Azurite for this file, started on first use. */
const sharedAzurite = () => (azurite ??= startAzuriteBlob());
afterAll(async () => {
  const running = await azurite?.catch(() => undefined);
  await running?.stop();
});

/**
 * A client of the Azurite account built apart from the code under test: the SDK's development-storage
 * credential (its well-known account and key) sent straight to this Azurite's URL.
 */
const azuriteClient = (url: string) =>
  new storageBlob.BlobServiceClient(
    url,
    storageBlob.BlobServiceClient.fromConnectionString('UseDevelopmentStorage=true').credential,
  );

deadLetterStoreContract('JSON files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dead-letters-'));
  return {
    store: new FileDeadLetterStore(dir),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

// What this run proves: the adapter against Azurite's Blob REST API through the real @azure/storage-blob SDK
// (Put Blob, List Blobs with a prefix, Get Blob, Delete Blob, blob naming). What it cannot: the identity path
// (DEAD_LETTERS_STORAGE__blobServiceUri with a managed identity and RBAC), which needs a real account.
deadLetterStoreContract('Azure Blob Storage (Azurite)', async () => {
  const { url } = await sharedAzurite();
  const store = new BlobDeadLetterStore(azuriteClient(url).getContainerClient('dead-letters-contract'));
  await store.ensureContainer();
  return { store, dispose: async () => undefined };
});

describe('dead-letter store chosen by the settings', () => {
  let server: AzuriteBlob;
  beforeAll(async () => {
    server = await sharedAzurite();
  });

  it('DEAD_LETTERS=blob with DEAD_LETTERS_STORAGE writes blobs to Azurite, creating the container on first use', async () => {
    const container = `dead-letters-settings-${process.pid}`;
    const settings = readSettings({
      DEAD_LETTERS: 'blob',
      DEAD_LETTERS_STORAGE: server.connectionSetting,
      DEAD_LETTERS_CONTAINER: container,
    });
    const store = deadLetterStore(settings);
    expect(store).toBeInstanceOf(BlobDeadLetterStore);

    const record = letter('order-1:3');
    await store.put('publisher', 'order-1:3', record);
    await store.put('publisher', 'a/b.c', letter('a/b.c'));
    expect(await store.list('publisher')).toEqual([letter('a/b.c'), record]);

    // Seen from an independent client: the blobs' names and content type.
    const blobs = azuriteClient(server.url).getContainerClient(container);
    const names: string[] = [];
    for await (const blob of blobs.listBlobsFlat({ prefix: 'publisher/' })) names.push(blob.name);
    expect(names.sort()).toEqual(['publisher/a~2Fb~2Ec.json', 'publisher/order-1:3.json']);
    const properties = await blobs.getBlobClient('publisher/order-1:3.json').getProperties();
    expect(properties.contentType).toBe('application/json');
    expect(
      JSON.parse((await blobs.getBlobClient('publisher/order-1:3.json').downloadToBuffer()).toString()),
    ).toEqual(record);

    await store.delete('publisher', 'order-1:3');
    await store.delete('publisher', 'a/b.c');
    expect(await store.list('publisher')).toEqual([]);
  });

  it('sends straight to the Azurite that DevelopmentStorageProxyUri names, not through it as a proxy', () => {
    // As a proxy (the SDK's reading) requests would name port 10000 and bypass the proxy for hosts in NO_PROXY.
    const client = developmentStorageClient(storageBlob, server.connectionSetting);
    expect(client.url).toBe(server.url);
    expect(client.accountName).toBe('devstoreaccount1');
    expect(storageBlob.BlobServiceClient.fromConnectionString(server.connectionSetting).url).toBe(
      'http://127.0.0.1:10000/devstoreaccount1',
    );
  });

  it('plain UseDevelopmentStorage=true is accepted (Azurite on its default port 10000)', () => {
    const settings = readSettings({
      DEAD_LETTERS: 'blob',
      DEAD_LETTERS_STORAGE: 'UseDevelopmentStorage=true',
    });
    // Built without a request: nothing is sent until the first operation, and port 10000 may be anyone's.
    expect(deadLetterStore(settings)).toBeInstanceOf(BlobDeadLetterStore);
  });

  it('refuses a DEAD_LETTERS_STORAGE that is not Azurite, or that adds anything but the Azurite address', () => {
    for (const value of [
      'DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=bm90LWEta2V5;EndpointSuffix=core.windows.net',
      'UseDevelopmentStorage=true;AccountKey=bm90LWEta2V5',
      'UseDevelopmentStorage=true;DevelopmentStorageProxyUri=ftp://127.0.0.1:21',
      'UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1:1/devstoreaccount1',
      'UseDevelopmentStorage=false',
    ]) {
      expect(() => readSettings({ DEAD_LETTERS: 'blob', DEAD_LETTERS_STORAGE: value }), value).toThrow(
        /DEAD_LETTERS_STORAGE: only UseDevelopmentStorage=true/,
      );
    }
  });

  it('DEAD_LETTERS=blob needs a connection setting', () => {
    expect(() => readSettings({ DEAD_LETTERS: 'blob' })).toThrow(/DEAD_LETTERS_STORAGE__blobServiceUri/);
  });

  it('DEAD_LETTERS=blob with DEAD_LETTERS_STORAGE__blobServiceUri builds an identity-based store without a request', () => {
    const settings = readSettings({
      DEAD_LETTERS: 'blob',
      DEAD_LETTERS_STORAGE__blobServiceUri: 'https://example.blob.core.windows.net',
    });
    expect(deadLetterStore(settings)).toBeInstanceOf(BlobDeadLetterStore);
  });

  it('files stay the default, under DATA_DIR/dead-letters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dead-letters-default-'));
    try {
      const store = deadLetterStore(readSettings({ DATA_DIR: dir }));
      expect(store).toBeInstanceOf(FileDeadLetterStore);
      const channel = newChannel();
      await store.put(channel, 'order-1:1', letter('order-1:1'));
      expect(await new FileDeadLetterStore(join(dir, 'dead-letters')).list(channel)).toEqual([
        letter('order-1:1'),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
