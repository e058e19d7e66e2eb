import type { TokenCredential } from '@azure/identity';
import { LakeTarget } from '../../ports/eventLake';
import { developmentStorageClient } from '../deadLetterStores';
import { BlobLakeTarget } from './blobLakeTarget';
import { FolderLakeTarget } from './folderLakeTarget';

/**
 * Where the event lake goes (src/config/connections.ts `lakeTarget` reads it from the settings):
 * - `files`: a local folder;
 * - `blob`: the container `container` of the account at `serviceUri` (Blob, or Data Lake Storage Gen2 through its
 *   Blob endpoint), with `credential` (on Azure the app's identity, which needs Storage Blob Data Contributor; Bicep
 *   creates the container);
 * - `development`: Azurite, from `UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=<origin>]`; the container
 *   is created on first use.
 */
export type LakeTargetSpec =
  | { kind: 'files'; folder: string }
  | { kind: 'blob'; container: string; serviceUri: string; credential: TokenCredential }
  | { kind: 'development'; container: string; connectionString: string };

/** Opens a lake target; `@azure/storage-blob` loads only for a blob one, and nothing is sent until first use. */
export function openLakeTarget(spec: LakeTargetSpec): LakeTarget {
  if (spec.kind === 'files') return new FolderLakeTarget(spec.folder);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK loads only when chosen
  const storage = require('@azure/storage-blob') as typeof import('@azure/storage-blob');
  if (spec.kind === 'development') {
    const service = developmentStorageClient(storage, spec.connectionString);
    return new BlobLakeTarget(service.getContainerClient(spec.container), {
      ensureContainerOnFirstUse: true,
    });
  }
  const service = new storage.BlobServiceClient(spec.serviceUri, spec.credential);
  return new BlobLakeTarget(service.getContainerClient(spec.container));
}
