import type { ContainerClient } from '@azure/storage-blob';
import { DeadLetterRecord, DeadLetterStore } from '../../ports/deadLetters';
import { channelPrefix, idOfBlobName, letterBlobName } from './blobNames';

export interface BlobDeadLetterStoreOptions {
  /**
   * Create the container (see {@link BlobDeadLetterStore.ensureContainer}) before the first operation. For
   * Azurite only: on Azure, Bicep creates the container and the app's identity (Storage Blob Data
   * Contributor) may not create containers. Default false.
   */
  ensureContainerOnFirstUse?: boolean;
  /** Letters {@link BlobDeadLetterStore.list} reads at once. Default 8. */
  readConcurrency?: number;
}

/** A failed Storage request (the SDK's `RestError`), told apart by shape rather than class. */
const statusOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;

/**
 * Dead letters as blobs in an Azure Storage container (on Azure; Azurite in tests), one blob per letter named
 * `<channel>/<id>.json` with channel and id escaped as in ./blobNames.ts (e.g. channel `publisher`, id
 * `order-1:3` → `publisher/order-1:3.json`; id `a/b.c` → `a~2Fb~2Ec.json`), content type `application/json`,
 * the {@link DeadLetterRecord} as its JSON body.
 *
 * Blob Storage rules it relies on (learn.microsoft.com/rest/api/storageservices/ `put-blob`, `list-blobs`,
 * `get-blob`, `delete-blob`, `naming-and-referencing-containers--blobs--and-metadata`):
 * - A letter is written whole or not at all: {@link put} is one Put Blob request (`BlockBlobClient.upload`),
 *   which creates or replaces the blob atomically (a reader sees the old or the new blob, never part of one);
 *   one Put Blob takes up to 5,000 MiB, far above Event Grid's 1 MB event limit.
 * - {@link list} lists the channel's prefix (the SDK follows continuation markers), then reads each blob with
 *   one Get Blob; a blob deleted between the two is left out. It orders by id itself (UTF-16 code unit order),
 *   since escaped names do not sort as their ids.
 * - {@link delete} ignores `BlobNotFound` and also deletes the blob's snapshots, if any.
 *
 * Errors are the SDK's `RestError` (`statusCode`, `code`): 404 `ContainerNotFound` when the container is missing
 * (unless {@link BlobDeadLetterStoreOptions.ensureContainerOnFirstUse}), 403 `AuthorizationPermissionMismatch`
 * when the identity lacks the Storage Blob Data Contributor role; a channel or id that cannot name a blob
 * (empty, not well-formed Unicode, or a name over 1,024 characters) throws a `RangeError` before any request.
 */
export class BlobDeadLetterStore implements DeadLetterStore {
  private ensured: Promise<void> | undefined;
  private readonly readConcurrency: number;

  constructor(
    private readonly container: ContainerClient,
    private readonly options: BlobDeadLetterStoreOptions = {},
  ) {
    this.readConcurrency = Math.max(1, options.readConcurrency ?? 8);
  }

  /**
   * Creates the container if it does not exist (Create Container; `ContainerAlreadyExists` is success).
   * Needs a role that may create containers (e.g. Storage Blob Data Contributor on the account, or a key).
   * @throws RestError from the service, e.g. 403 when the identity may not create containers
   */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async put(channel: string, id: string, record: DeadLetterRecord): Promise<void> {
    const name = letterBlobName(channel, id);
    await this.ready();
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    await this.container.getBlockBlobClient(name).upload(body, body.length, {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  async list(channel: string): Promise<DeadLetterRecord[]> {
    const prefix = channelPrefix(channel);
    await this.ready();
    const letters: { id: string; name: string }[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      const id = idOfBlobName(prefix, blob.name);
      if (id !== undefined) letters.push({ id, name: blob.name });
    }
    letters.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const records = await mapLimited(letters, this.readConcurrency, ({ name }) => this.read(name));
    return records.filter((r): r is DeadLetterRecord => r !== undefined);
  }

  async delete(channel: string, id: string): Promise<void> {
    const name = letterBlobName(channel, id);
    await this.ready();
    await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
  }

  /** One letter, read with a single Get Blob; undefined when it was deleted since it was listed. */
  private async read(name: string): Promise<DeadLetterRecord | undefined> {
    try {
      const response = await this.container.getBlobClient(name).download();
      const body = response.readableStreamBody;
      if (!body) throw new Error(`no body in the download of blob ${name}`);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as DeadLetterRecord;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private ready(): Promise<void> {
    if (!this.options.ensureContainerOnFirstUse) return Promise.resolve();
    this.ensured ??= this.ensureContainer().catch((err: unknown) => {
      this.ensured = undefined; // try again on the next operation
      throw err;
    });
    return this.ensured;
  }
}

/** Maps items with at most `limit` calls in flight, keeping the items' order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
