import type { BlobServiceClient } from '@azure/storage-blob';
import { join } from 'node:path';
// The blob adapter imports @azure/storage-blob for its types only, so importing it loads no SDK.
import { BlobDeadLetterStore } from '../adapters/blob/blobDeadLetterStore';
import { FileDeadLetterStore } from '../adapters/fs/fileDeadLetterStore';
import { Settings, SettingsError } from '../config/settings';
import { DeadLetterStore } from '../ports/deadLetters';
import { azureCredential } from './services';

/**
 * The dead-letter store the settings choose:
 * - `DEAD_LETTERS=files` (default): JSON files under DATA_DIR/dead-letters.
 * - `DEAD_LETTERS=blob`: blobs in the container DEAD_LETTERS_CONTAINER, through `@azure/storage-blob` (loaded
 *   only then), with the first of these connections that is set (the Functions host's order for a connection
 *   `X`: the setting `X`, then `X__blobServiceUri`):
 *   - `DEAD_LETTERS_STORAGE`, Azurite only: `UseDevelopmentStorage=true`, optionally
 *     `;DevelopmentStorageProxyUri=http://127.0.0.1:<port>` (see {@link developmentStorageClient}). The
 *     container is created on first use, as nothing else creates it locally.
 *   - `DEAD_LETTERS_STORAGE__blobServiceUri` (Azure): the identity ({@link azureCredential}), which needs the
 *     Storage Blob Data Contributor role on the account or container. The container must exist (Bicep creates it).
 *
 * Nothing is sent to Storage until the first operation.
 * @throws SettingsError when DEAD_LETTERS=blob lacks a usable connection setting
 */
export function deadLetterStore(settings: Settings): DeadLetterStore {
  if (settings.DEAD_LETTERS !== 'blob') {
    return new FileDeadLetterStore(join(settings.DATA_DIR, 'dead-letters'));
  }
  // The SDK is loaded only when chosen. (A lazy `require` of the adapter module itself, as in
  // src/composition/services.ts, works in dist/ but not under vitest, whose Node `require` cannot load .ts files.)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const storage = require('@azure/storage-blob') as typeof import('@azure/storage-blob');
  if (settings.DEAD_LETTERS_STORAGE) {
    const service = developmentStorageClient(storage, settings.DEAD_LETTERS_STORAGE);
    return new BlobDeadLetterStore(service.getContainerClient(settings.DEAD_LETTERS_CONTAINER), {
      ensureContainerOnFirstUse: true,
    });
  }
  if (settings.DEAD_LETTERS_STORAGE__blobServiceUri) {
    const service = new storage.BlobServiceClient(
      settings.DEAD_LETTERS_STORAGE__blobServiceUri,
      azureCredential(settings),
    );
    return new BlobDeadLetterStore(service.getContainerClient(settings.DEAD_LETTERS_CONTAINER));
  }
  throw new SettingsError(
    'invalid settings: DEAD_LETTERS=blob needs DEAD_LETTERS_STORAGE__blobServiceUri (identity) or DEAD_LETTERS_STORAGE (Azurite)',
  );
}

/**
 * A client of Azurite's blob service from `UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=<origin>]`.
 *
 * The account and its key come from the SDK: for a string that starts with `UseDevelopmentStorage=true`,
 * `BlobServiceClient.fromConnectionString` (@azure/storage-blob 12.x, `extractConnectionStringParts` in
 * utils/utils.common.js) uses its own built-in development connection string (the emulator's well-known account
 * `devstoreaccount1`, its published key, endpoint `http://127.0.0.1:10000/devstoreaccount1`), so no key is
 * written in this repository or its settings.
 *
 * The SDK treats `DevelopmentStorageProxyUri` as an HTTP forward proxy: requests still name
 * `http://127.0.0.1:10000/devstoreaccount1/...` and go through the proxy. Azurite accepts such requests and
 * takes the account from the path, but the proxy is skipped for any host listed in NO_PROXY (which commonly
 * lists 127.0.0.1), and the requests then reach port 10000: another Azurite, or nothing. So this app reads
 * the proxy URI as Azurite's own address instead: the client sends to `<origin>/devstoreaccount1` directly, with
 * the credential the SDK built. For Azurite both readings reach the same server.
 * @throws SettingsError when the proxy URI is not an http(s) URL
 */
export function developmentStorageClient(
  storage: typeof import('@azure/storage-blob'),
  connectionString: string,
): BlobServiceClient {
  const sdk = storage.BlobServiceClient.fromConnectionString(connectionString);
  const proxy = /(?:^|;)\s*DevelopmentStorageProxyUri=([^;]+)/.exec(connectionString)?.[1]?.trim();
  if (!proxy) return sdk;
  let origin: URL;
  try {
    origin = new URL(proxy);
  } catch {
    throw new SettingsError(
      `invalid settings: DEAD_LETTERS_STORAGE: DevelopmentStorageProxyUri ${proxy} is not a URL`,
    );
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') {
    throw new SettingsError(
      'invalid settings: DEAD_LETTERS_STORAGE: DevelopmentStorageProxyUri must be http or https',
    );
  }
  const endpoint = new URL(sdk.url); // http://127.0.0.1:10000/devstoreaccount1: keep the account path
  endpoint.protocol = origin.protocol;
  endpoint.hostname = origin.hostname;
  endpoint.port = origin.port; // '' (the scheme's default) when the URI names none
  return new storage.BlobServiceClient(endpoint.toString(), sdk.credential);
}
