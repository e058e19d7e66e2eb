import type { TokenCredential } from '@azure/identity';
import type { BlobServiceClient } from '@azure/storage-blob';
import { join } from 'node:path';
import { DeadLetterStore } from '../ports/deadLetters';
// The blob adapter imports @azure/storage-blob for its types only, so importing it loads no SDK.
import { BlobDeadLetterStore } from './blob/blobDeadLetterStore';
import { FileDeadLetterStore } from './fs/fileDeadLetterStore';

/**
 * Where dead letters go (src/config/connections.ts `deadLetterTarget` reads it from the settings):
 * - `files`: JSON files under `folder` (local).
 * - `blob`: blobs in `container` of the account at `serviceUri`, with `credential` (Azure: the identity, which
 *   needs Storage Blob Data Contributor; the container must exist, Bicep creates it).
 * - `development`: Azurite, from `UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=<origin>]`; the
 *   container is created on first use, as nothing else creates it locally.
 */
export type DeadLetterTarget =
  | { kind: 'files'; folder: string }
  | { kind: 'blob'; container: string; serviceUri: string; credential: TokenCredential }
  | { kind: 'development'; container: string; connectionString: string };

/**
 * Opens the dead-letter store of a target: the app's (publisher) and the local Event Grid topic's
 * (subscriptions) use the same one, as on Azure the subscriptions dead-letter to the same container.
 * `@azure/storage-blob` is loaded only for a blob target. Nothing is sent to Storage until the first operation.
 */
export function openDeadLetterStore(target: DeadLetterTarget): DeadLetterStore {
  if (target.kind === 'files') return new FileDeadLetterStore(target.folder);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK loads only when chosen
  const storage = require('@azure/storage-blob') as typeof import('@azure/storage-blob');
  if (target.kind === 'development') {
    const service = developmentStorageClient(storage, target.connectionString);
    return new BlobDeadLetterStore(service.getContainerClient(target.container), {
      ensureContainerOnFirstUse: true,
    });
  }
  const service = new storage.BlobServiceClient(target.serviceUri, target.credential);
  return new BlobDeadLetterStore(service.getContainerClient(target.container));
}

/** The folder of file dead letters under a data folder. */
export const deadLetterFolder = (dataDir: string): string => join(dataDir, 'dead-letters');

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
 * @throws RangeError when the proxy URI is not an http(s) URL
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
    throw new RangeError(`DevelopmentStorageProxyUri ${proxy} is not a URL`);
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') {
    throw new RangeError('DevelopmentStorageProxyUri must be http or https');
  }
  const endpoint = new URL(sdk.url); // http://127.0.0.1:10000/devstoreaccount1: keep the account path
  endpoint.protocol = origin.protocol;
  endpoint.hostname = origin.hostname;
  endpoint.port = origin.port; // '' (the scheme's default) when the URI names none
  return new storage.BlobServiceClient(endpoint.toString(), sdk.credential);
}
