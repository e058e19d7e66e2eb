import type { ContainerClient } from '@azure/storage-blob';
import { LakeFileInfo, LakeLockTimeoutError, LakeTarget } from '../../ports/eventLake';

export interface BlobLakeTargetOptions {
  /** Create the container before the first operation: for Azurite only (on Azure, Bicep creates it). */
  ensureContainerOnFirstUse?: boolean;
  /** How long {@link BlobLakeTarget.withLock} waits for the lease, in ms. Default 10 minutes. */
  lockWaitMs?: number;
}

/** A failed Storage request (the SDK's `RestError`), told apart by shape rather than class. */
const statusOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;

/** Seconds of the roll lock's lease (Lease Blob takes 15-60 s or infinite); renewed every third of it. */
const leaseSeconds = 60;

/**
 * The event lake in a Blob Storage container, which is also how Azure Data Lake Storage Gen2 (an account with a
 * hierarchical namespace) is written through its Blob endpoint (learn.microsoft.com/azure/storage/blobs/
 * data-lake-storage-multi-protocol-access): one blob per file, its path as the blob name.
 *
 * Storage rules it relies on (learn.microsoft.com/rest/api/storageservices/ `put-blob`, `list-blobs`,
 * `lease-blob`): a write is one Put Blob (`BlockBlobClient.upload`), which replaces the blob atomically; one Put
 * Blob takes up to 5,000 MiB, so roll thresholds stay far below it. The roll lock is a 60 s lease on the blob
 * `_lake/lock` (created empty when missing), renewed every 20 s while the roll runs and released after it; a
 * holder that dies loses it within 60 s. Errors are the SDK's `RestError`: 404 `ContainerNotFound`, 403
 * `AuthorizationPermissionMismatch` without the Storage Blob Data Contributor role.
 */
export class BlobLakeTarget implements LakeTarget {
  private ensured: Promise<unknown> | undefined;
  private readonly lockWaitMs: number;

  constructor(
    private readonly container: ContainerClient,
    private readonly options: BlobLakeTargetOptions = {},
  ) {
    this.lockWaitMs = options.lockWaitMs ?? 600_000;
  }

  get location(): string {
    return this.container.url;
  }

  async write(path: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    await this.ready();
    await this.container.getBlockBlobClient(path).upload(bytes, bytes.byteLength, {
      blobHTTPHeaders: { blobContentType: contentType },
    });
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    await this.ready();
    try {
      return await this.container.getBlobClient(path).downloadToBuffer();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<LakeFileInfo[]> {
    await this.ready();
    const out: LakeFileInfo[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      out.push({
        path: blob.name,
        bytes: blob.properties.contentLength ?? 0,
        modifiedAt: blob.properties.lastModified.getTime(),
      });
    }
    return out;
  }

  async delete(path: string): Promise<void> {
    await this.ready();
    await this.container.getBlobClient(path).deleteIfExists({ deleteSnapshots: 'include' });
  }

  async withLock<T>(work: () => Promise<T>): Promise<T> {
    await this.ready();
    const blob = this.container.getBlockBlobClient('_lake/lock');
    try {
      await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      // 409 BlobAlreadyExists, or 412 with a lease on it: the lock blob is there.
      if (statusOf(err) !== 409 && statusOf(err) !== 412) throw err;
    }
    const lease = blob.getBlobLeaseClient();
    const deadline = Date.now() + this.lockWaitMs;
    let delay = 100;
    for (;;) {
      try {
        await lease.acquireLease(leaseSeconds);
        break;
      } catch (err) {
        if (statusOf(err) !== 409) throw err; // 409 LeaseAlreadyPresent: another roll holds it
        if (Date.now() > deadline) {
          throw new LakeLockTimeoutError(
            `the lake lease on ${blob.url} was held for over ${this.lockWaitMs} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
    const renew = setInterval(
      () => void lease.renewLease().catch(() => undefined),
      (leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await lease.releaseLease().catch(() => undefined);
    }
  }

  private ready(): Promise<unknown> {
    if (!this.options.ensureContainerOnFirstUse) return Promise.resolve();
    this.ensured ??= this.container.createIfNotExists().catch((err: unknown) => {
      this.ensured = undefined;
      throw err;
    });
    return this.ensured;
  }
}
