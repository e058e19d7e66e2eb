import {
  BulkOperationType,
  ChangeFeedStartFrom,
  Container,
  JSONObject,
  OperationInput,
  OperationResponse,
} from '@azure/cosmos';
import {
  activityByMinute,
  assertLatestLimit,
  assertSince,
  MinuteActivity,
  AppendResult,
  CommitDocument,
  CommitTooLargeError,
  EventStore,
  eventsOfCommit,
  FeedPage,
  ReadStreamOptions,
  RecordedEvent,
  sliceStream,
  StoredEventRecord,
  StreamSlice,
  WrongExpectedVersionError,
  AppendListeners,
  newCommit,
  AppendOptions,
  assertEventPage,
  EventPage,
  eventsInRange,
  StreamHead,
  StreamSnapshot,
  CommitRequest,
  CommitOutcome,
  assertCommitBatch,
} from '../../ports/eventStore';
import { chargeOf, CosmosStoreError, explain, RequestChargeListener } from './connection';

/**
 * Cosmos DB limits the adapter enforces before it sends anything, from
 * https://learn.microsoft.com/azure/cosmos-db/concepts-limits#per-item-limits (an item is at most 2 MB,
 * measured as the UTF-8 length of its JSON) and
 * https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch#limitations (a transactional batch
 * holds at most 100 operations and its payload is at most 2 MB). 2 MB is taken as 2 MiB; `itemHeadroomBytes`
 * leaves room for the system properties Cosmos adds to a stored item (`_rid`, `_self`, `_etag`, `_ts`, ...).
 */
export const cosmosLimits = {
  maxItemBytes: 2 * 1024 * 1024,
  maxBatchBytes: 2 * 1024 * 1024,
  maxBatchOperations: 100,
  itemHeadroomBytes: 1024,
} as const;

/**
 * The per-order head document: `version` is the stream version; its `_etag` guards appends; `snapshot`, when
 * present, is the folded state at `version`, written in the same transactional batch as the commit
 * (docs/adr/0015-snapshot-in-the-head.md). Lives in the events container beside the commits, in the order's
 * partition; the change feed carries it too, and every change-feed handler skips it (`kind` is not `commit`).
 */
export interface HeadDocument {
  id: 'head';
  orderId: string;
  kind: 'head';
  version: number;
  snapshot?: StreamSnapshot;
}

/**
 * How `readFeed` reads the container:
 * - `changefeed`: the pull-model change feed (`getChangeFeedIterator`), position = the SDK's continuation
 *   token, which holds one continuation per feed range (physical partition) and follows splits. Use it for
 *   every real account and the emulator.
 * - `test-server-scan`: for @vercel/cosmosdb-server only. Its change feed is a stub: the first read returns
 *   the container's documents with the ETag "1", and every read with a continuation answers 304, so nothing
 *   written later ever appears. This mode instead pages through a cross-partition query of the commits,
 *   relying on that server returning items in insertion order (it scans a JavaScript Map; commits are never
 *   replaced so they keep their place); position = `scan:<commits seen>`. Real Cosmos DB gives no such
 *   order, which is why the settings refuse this mode for any endpoint not on this machine.
 */
export type FeedMode = 'changefeed' | 'test-server-scan';

export interface CosmosEventStoreOptions {
  /** The leases container (partition key `/id`), where `setCheckpoint` keeps its documents. */
  leases: Container;
  onRequestCharge?: RequestChargeListener;
  feedMode?: FeedMode;
}

type Doc = { kind?: string } & Record<string, unknown>;
const isCommitDoc = (d: Doc): boolean => d.kind === 'commit' && Array.isArray(d.e);

/** The commit fields only, without the system properties (`_rid`, `_etag`, `_ts`, ...) Cosmos adds. */
const toCommit = (d: Doc): CommitDocument => {
  const { id, orderId, kind, i, n, e, recordedAt } = d as unknown as CommitDocument;
  return { id, orderId, kind, i, n, e, recordedAt };
};

const headEtagCacheSize = 1000;
/** Orders of a group commit written at once: enough to overlap the round trips, few enough not to be throttled. */
const groupCommitParallelism = 8;
const forbiddenIdChars = /[/\\?#]/;

/**
 * Event store on Cosmos DB for NoSQL (docs/adr/0002-commit-documents.md, docs/adr/0003-optimistic-concurrency.md),
 * container `events` partitioned by
 * `/orderId`:
 * - one immutable commit document per append (`CommitDocument`, id = `commitId(i)`, never updated), and
 * - one head document per order (`HeadDocument`) whose `_etag` guards appends.
 *
 * `append` is one transactional batch in the order's partition: first the guard (replace the head with
 * `ifMatch` on the etag read with the head at the expected version, or create the head when the expected
 * version is 0), then the creation of the commit. Cosmos runs a batch all or nothing, so a stale or made-up
 * expected version can neither leave a gap nor an overlap. Every per-operation status is checked, because
 * a rejected batch still resolves.
 *
 * Reads: a point read of the head (1 RU for a small item), then a single-partition query of the commits
 * ordered by `i`, up to the head's version. The request charge of every operation goes to `onRequestCharge`.
 */
export class CosmosEventStore implements EventStore {
  private readonly appended: AppendListeners;

  private readonly leases: Container;
  private readonly onRequestCharge: RequestChargeListener;
  private readonly feedMode: FeedMode;
  /** Etags of heads this instance has seen, by order: spares the head read of an append after a read. */
  private readonly headEtags = new Map<string, { version: number; etag: string }>();

  constructor(
    private readonly events: Container,
    options: CosmosEventStoreOptions,
  ) {
    this.appended = AppendListeners.of(`cosmos:${events.url}`);
    this.leases = options.leases;
    this.onRequestCharge = options.onRequestCharge ?? (() => {});
    this.feedMode = options.feedMode ?? 'changefeed';
  }

  /**
   * @throws WrongExpectedVersionError when the head is not at `expectedVersion` (checked on read, and again
   *   by the batch's etag guard: a 412 or 409 of the batch means another writer came first)
   * @throws CommitTooLargeError when the commit or the batch exceeds `cosmosLimits` (nothing is sent)
   * @throws RangeError for a malformed expected version or an empty commit
   * @throws CosmosStoreError for any other failed operation of the batch, naming the statuses
   */
  async append(
    orderId: string,
    expectedVersion: number,
    events: StoredEventRecord[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    const commit = newCommit(orderId, expectedVersion, events);
    assertItemSize(commit);
    const head = headWithSnapshot(
      orderId,
      commit.n,
      options?.snapshot && { ...options.snapshot, version: commit.n },
      Buffer.byteLength(JSON.stringify(commit)),
    );

    // Two rounds at most: a 412 while the head is still at the expected version means only its etag
    // changed (the remembered one was stale), so the batch is tried once more with a fresh read.
    // The snapshot's state is JSON by construction, as event data is.
    const headBody = head as unknown as JSONObject;
    for (let round = 0; ; round++) {
      const guard: OperationInput =
        expectedVersion === 0
          ? { operationType: BulkOperationType.Create, partitionKey: orderId, resourceBody: { ...headBody } }
          : {
              operationType: BulkOperationType.Replace,
              id: 'head',
              partitionKey: orderId,
              ifMatch: await this.headEtagAt(orderId, expectedVersion, round > 0),
              resourceBody: { ...headBody },
            };
      const operations: OperationInput[] = [
        guard,
        // Event data is typed `unknown` but is JSON by construction (commands arrive as validated JSON).
        {
          operationType: BulkOperationType.Create,
          partitionKey: orderId,
          resourceBody: commit as unknown as JSONObject,
        },
      ];
      assertBatchSize(operations);

      let results: OperationResponse[];
      try {
        const response = await this.events.items.batch(operations, orderId);
        this.onRequestCharge('events.append', chargeOf(response.headers));
        results = response.result ?? [];
      } catch (err) {
        throw explain(`append to order ${orderId}`, err);
      }
      const statuses = results.map((r) => r.statusCode);
      if (statuses.length === operations.length && statuses.every((s) => s >= 200 && s < 300)) {
        const etag = results[0].eTag;
        if (etag) this.rememberHead(orderId, commit.n, etag);
        this.appended.notify();
        return { commit, version: commit.n };
      }
      this.headEtags.delete(orderId);
      // The failing operation has its own status; the others answer 424 (failed dependency).
      const failed = statuses.find((s) => s >= 400 && s !== 424);
      if (failed === 409 || failed === 412) {
        const actual = (await this.pointReadHead(orderId))?.version ?? 0;
        if (failed === 412 && actual === expectedVersion && round === 0) continue;
        throw new WrongExpectedVersionError(orderId, expectedVersion, actual);
      }
      if (failed === 413) {
        const bytes = Buffer.byteLength(JSON.stringify(operations));
        throw new CommitTooLargeError(
          `order ${orderId}: Cosmos DB refused the commit as too large (${bytes} bytes)`,
          bytes,
          cosmosLimits.maxBatchBytes,
        );
      }
      throw new CosmosStoreError(
        `append to order ${orderId} failed: batch operation statuses [${statuses.join(', ') || 'none'}]`,
      );
    }
  }

  /**
   * Group commit on Cosmos DB, which has no transaction across partitions: every commit is checked first (range,
   * item size), then each is written by `append` (its own transactional batch, head guard and snapshot), one
   * order's commits in sequence, up to eight orders at once. The etags `append` remembers spare the head reads
   * of an order's later commits.
   * @see EventStore.appendCommits
   * @throws CosmosStoreError for a failed operation other than a version conflict (other orders' commits may
   *   be written by then)
   */
  async appendCommits(batch: CommitRequest[]): Promise<CommitOutcome[]> {
    assertCommitBatch(batch);
    for (const c of batch) assertItemSize(newCommit(c.orderId, c.expectedVersion, c.events));
    const byOrder = new Map<string, number[]>();
    batch.forEach((c, k) => {
      const list = byOrder.get(c.orderId);
      if (list) list.push(k);
      else byOrder.set(c.orderId, [k]);
    });
    const outcomes = new Array<CommitOutcome>(batch.length);
    const writeOrder = async (indexes: number[]) => {
      let refusedAt: number | undefined;
      for (const k of indexes) {
        const { orderId, expectedVersion, events, options } = batch[k];
        if (refusedAt !== undefined) {
          const error = new WrongExpectedVersionError(orderId, expectedVersion, refusedAt);
          outcomes[k] = { ok: false, error };
          continue;
        }
        try {
          outcomes[k] = { ok: true, result: await this.append(orderId, expectedVersion, events, options) };
        } catch (err) {
          if (!(err instanceof WrongExpectedVersionError)) throw err;
          refusedAt = err.actualVersion ?? 0;
          outcomes[k] = { ok: false, error: err };
        }
      }
    };
    const queue = [...byOrder.values()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await writeOrder(next);
    };
    await Promise.all(Array.from({ length: Math.min(groupCommitParallelism, queue.length) }, worker));
    return outcomes;
  }

  /**
   * @throws CosmosStoreError when a read fails, or when the stored commits have a gap (which an atomic
   *   batch cannot produce: it means the container was written by something else or is not Cosmos DB)
   */
  async readStream(orderId: string, options?: ReadStreamOptions): Promise<StreamSlice> {
    const head = await this.pointReadHead(orderId);
    if (!head) return { version: 0, events: [] };
    const upTo = Math.min(head.version, options?.toVersion ?? Number.POSITIVE_INFINITY);
    if (upTo <= 0) return { version: 0, events: [] };
    let commits: CommitDocument[];
    try {
      const response = await this.events.items
        .query<CommitDocument>(
          {
            // The orderId filter repeats the partition key: redundant for Cosmos DB, needed by the test
            // server, which ignores the partitionKey option of a query.
            query:
              "SELECT * FROM c WHERE c.orderId = @orderId AND c.kind = 'commit' AND c.i < @upTo ORDER BY c.i",
            parameters: [
              { name: '@orderId', value: orderId },
              { name: '@upTo', value: upTo },
            ],
          },
          { partitionKey: orderId },
        )
        .fetchAll();
      this.onRequestCharge('events.queryCommits', response.requestCharge);
      commits = response.resources;
    } catch (err) {
      throw explain(`read of order ${orderId}`, err);
    }
    const events: RecordedEvent[] = [];
    let version = 0;
    for (const commit of commits) {
      if (commit.i !== version) {
        throw new CosmosStoreError(
          `order ${orderId}: stored commits are not contiguous (version ${version} is followed by a commit at ${commit.i})`,
        );
      }
      events.push(...eventsOfCommit(toCommit(commit as unknown as Doc)));
      version = commit.n;
    }
    return sliceStream(events, options);
  }

  /** One point read of the head document (≈ 1 RU for a small head, more with a large snapshot). */
  async readHead(orderId: string): Promise<StreamHead | undefined> {
    const head = await this.pointReadHead(orderId);
    if (!head) return undefined;
    const snapshot = asSnapshot(head.snapshot);
    return snapshot ? { version: head.version, snapshot } : { version: head.version };
  }

  /**
   * Replaces the head with one carrying `snapshot`, with `ifMatch` on the etag of the head at
   * `snapshot.version`; a head that moved on (412) or is at another version keeps what it has.
   * @throws CosmosStoreError for any other failure
   */
  async saveSnapshot(orderId: string, snapshot: StreamSnapshot): Promise<boolean> {
    const { schema, version, state } = snapshot;
    const head: HeadDocument = {
      id: 'head',
      orderId,
      kind: 'head',
      version,
      snapshot: { schema, version, state },
    };
    if (Buffer.byteLength(JSON.stringify(head)) > maxHeadBytes) return false;
    let etag: string;
    try {
      etag = await this.headEtagAt(orderId, version, false);
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) return false;
      throw err;
    }
    try {
      const response = await this.events
        .item('head', orderId)
        .replace<HeadDocument>(head, { accessCondition: { type: 'IfMatch', condition: etag } });
      this.onRequestCharge('events.saveSnapshot', response.requestCharge);
      if (response.etag) this.rememberHead(orderId, version, response.etag);
      return true;
    } catch (err) {
      const status = (err as { code?: unknown }).code;
      if (status === 412 || status === 404) {
        this.headEtags.delete(orderId);
        return false;
      }
      throw explain(`write of the snapshot of order ${orderId}`, err);
    }
  }

  /**
   * A point read of the head, then one query in the order's partition for the commits holding versions
   * (after, min(after + limit, head)]: `n > after` and `i < upper bound`, both indexed, so the page loads the
   * commits it returns and not the stream before them.
   * @throws CosmosStoreError when a read fails or the commits found are not contiguous
   */
  async readEvents(orderId: string, after: number, limit: number): Promise<EventPage> {
    assertEventPage(after, limit);
    const head = await this.pointReadHead(orderId);
    if (!head || after >= head.version) return { version: head?.version ?? 0, events: [] };
    const upTo = Math.min(head.version, after + limit);
    let commits: CommitDocument[];
    try {
      const response = await this.events.items
        .query<Doc>(
          {
            query:
              "SELECT * FROM c WHERE c.orderId = @orderId AND c.kind = 'commit' AND c.n > @after AND c.i < @upTo ORDER BY c.i",
            parameters: [
              { name: '@orderId', value: orderId },
              { name: '@after', value: after },
              { name: '@upTo', value: upTo },
            ],
          },
          { partitionKey: orderId },
        )
        .fetchAll();
      this.onRequestCharge('events.queryPage', response.requestCharge);
      commits = response.resources.filter(isCommitDoc).map(toCommit);
    } catch (err) {
      throw explain(`read of a page of order ${orderId}`, err);
    }
    const contiguous =
      commits.length > 0 &&
      commits[0].i <= after &&
      commits.every((c, k) => k === 0 || c.i === commits[k - 1].n) &&
      commits[commits.length - 1].n >= upTo;
    if (!contiguous) {
      throw new CosmosStoreError(
        `order ${orderId}: the stored commits do not cover versions ${after + 1} to ${upTo} contiguously`,
      );
    }
    return { version: head.version, events: eventsInRange(commits, after, upTo) };
  }

  /**
   * Reads commits after `position` (undefined or '' = from the beginning), at most `limit` per page; the
   * head documents the feed also carries are skipped, and the position moves past them too.
   * @throws CosmosStoreError when the feed cannot be read or `position` belongs to the other feed mode
   */
  async readFeed(position: string | undefined, limit: number): Promise<FeedPage> {
    const from = position || undefined;
    return this.feedMode === 'test-server-scan' ? this.scanFeed(from, limit) : this.changeFeed(from, limit);
  }

  /** Pull-model change feed: 304 means no news; `hasMoreResults` is always true, so the page loop is ours. */
  private async changeFeed(position: string | undefined, limit: number): Promise<FeedPage> {
    if (position?.startsWith('scan:')) {
      throw new CosmosStoreError(`feed position "${position}" was written in test-server-scan mode`);
    }
    const iterator = this.events.items.getChangeFeedIterator<Doc>({
      maxItemCount: limit,
      changeFeedStartFrom: position
        ? ChangeFeedStartFrom.Continuation(position)
        : ChangeFeedStartFrom.Beginning(),
    });
    let token = position ?? '';
    // A page may hold only head documents; keep reading so the caller always sees progress or 304.
    for (;;) {
      let response;
      try {
        response = await iterator.readNext();
      } catch (err) {
        throw explain('change feed read', err);
      }
      this.onRequestCharge('events.readFeed', response.requestCharge);
      token = response.continuationToken ?? token;
      if (response.statusCode === 304) return { commits: [], position: token };
      const commits = response.result.filter(isCommitDoc).map(toCommit);
      if (commits.length > 0) return { commits, position: token };
    }
  }

  private async scanFeed(position: string | undefined, limit: number): Promise<FeedPage> {
    const match = position === undefined ? ['', '0'] : /^scan:(\d+)$/.exec(position);
    if (!match) throw new CosmosStoreError(`feed position "${position}" is not a test-server-scan position`);
    const seen = Number(match[1]);
    try {
      const response = await this.events.items
        .query<Doc>(`SELECT TOP ${seen + limit} * FROM c WHERE c.kind = 'commit'`)
        .fetchAll();
      this.onRequestCharge('events.scanFeed', response.requestCharge);
      const commits = response.resources.slice(seen).map(toCommit);
      return { commits, position: `scan:${seen + commits.length}` };
    } catch (err) {
      throw explain('feed scan', err);
    }
  }

  /** A checkpoint is the document `checkpoint.<consumer>` in the leases container. */
  /**
   * A cross-partition query ordered by `recordedAt` (indexed for it: src/adapters/cosmos/containers.ts); each
   * partition answers its own top `limit`, so the cost grows with partitions, not with the log.
   * @throws CosmosStoreError when the query fails
   */
  async readLatestCommits(limit: number): Promise<CommitDocument[]> {
    assertLatestLimit(limit);
    try {
      const response = await this.events.items
        // `limit` is a checked integer, inline because TOP takes a literal most portably (as the read model does).
        .query<Doc>(`SELECT TOP ${limit} * FROM c WHERE c.kind = 'commit' ORDER BY c.recordedAt DESC`)
        .fetchAll();
      this.onRequestCharge('events.readLatestCommits', response.requestCharge);
      return response.resources.filter(isCommitDoc).map(toCommit);
    } catch (err) {
      throw explain('read of the latest commits', err);
    }
  }

  /**
   * Reads only `recordedAt`, `i` and `n` of the commits in range (a range filter on the indexed `recordedAt`)
   * and sums them per minute here, so the answer is the same on the test server, which has no GROUP BY.
   * @throws CosmosStoreError when the query fails
   */
  async activitySince(since: string): Promise<MinuteActivity[]> {
    assertSince(since);
    try {
      const response = await this.events.items
        .query<{ recordedAt: string; i: number; n: number }>({
          query: "SELECT c.recordedAt, c.i, c.n FROM c WHERE c.kind = 'commit' AND c.recordedAt >= @since",
          parameters: [{ name: '@since', value: new Date(Date.parse(since)).toISOString() }],
        })
        .fetchAll();
      this.onRequestCharge('events.activitySince', response.requestCharge);
      return activityByMinute(
        response.resources.map((c) => ({ recordedAt: c.recordedAt, events: c.n - c.i })),
      );
    } catch (err) {
      throw explain('read of the recent activity', err);
    }
  }

  async getCheckpoint(consumer: string): Promise<string | undefined> {
    try {
      const response = await this.leases
        .item(checkpointId(consumer), checkpointId(consumer))
        .read<{ position: string }>();
      this.onRequestCharge('leases.getCheckpoint', response.requestCharge);
      return response.resource?.position;
    } catch (err) {
      throw explain(`read of checkpoint ${consumer}`, err);
    }
  }

  async setCheckpoint(consumer: string, position: string): Promise<void> {
    const id = checkpointId(consumer);
    try {
      const response = await this.leases.items.upsert({
        id,
        kind: 'checkpoint',
        consumer,
        position,
        updatedAt: new Date().toISOString(),
      });
      this.onRequestCharge('leases.setCheckpoint', response.requestCharge);
    } catch (err) {
      throw explain(`write of checkpoint ${consumer}`, err);
    }
  }

  /** The client belongs to whoever opened the connection (CosmosConnection.dispose); nothing to release here. */
  onAppended(listener: () => void): () => void {
    return this.appended.add(listener);
  }

  async close(): Promise<void> {}

  private async pointReadHead(orderId: string): Promise<(HeadDocument & { _etag: string }) | undefined> {
    try {
      const response = await this.events.item('head', orderId).read<HeadDocument & { _etag: string }>();
      this.onRequestCharge('events.readHead', response.requestCharge);
      const head = response.resource;
      if (head) this.rememberHead(orderId, head.version, head._etag);
      return head;
    } catch (err) {
      throw explain(`read of the head of order ${orderId}`, err);
    }
  }

  /**
   * The etag of the head at `expectedVersion`: from the last head this instance saw when it is at that
   * version (versions only grow, so an etag seen at version v is stale exactly when the head has moved past
   * v, and the batch's guard then fails with 412), otherwise (or when `fresh`) from a point read.
   * @throws WrongExpectedVersionError when the head is absent or at another version
   */
  private async headEtagAt(orderId: string, expectedVersion: number, fresh: boolean): Promise<string> {
    const known = fresh ? undefined : this.headEtags.get(orderId);
    if (known?.version === expectedVersion) return known.etag;
    const head = await this.pointReadHead(orderId);
    if (!head || head.version !== expectedVersion) {
      throw new WrongExpectedVersionError(orderId, expectedVersion, head?.version ?? 0);
    }
    return head._etag;
  }

  private rememberHead(orderId: string, version: number, etag: string): void {
    this.headEtags.delete(orderId);
    this.headEtags.set(orderId, { version, etag });
    if (this.headEtags.size > headEtagCacheSize) {
      this.headEtags.delete(this.headEtags.keys().next().value as string);
    }
  }
}

function checkpointId(consumer: string): string {
  if (!consumer || forbiddenIdChars.test(consumer) || consumer.length > 200) {
    throw new RangeError(`consumer name "${consumer}" cannot be part of a Cosmos DB id`);
  }
  return `checkpoint.${consumer}`;
}

/** The most a head may weigh as JSON: the item limit less the room for system properties. */
const maxHeadBytes = cosmosLimits.maxItemBytes - cosmosLimits.itemHeadroomBytes;

/**
 * The head an append writes: with the snapshot when the head stays within the item limit and the batch
 * (head, commit and the operations' envelope) within the batch limit; otherwise without it, so a large state
 * never refuses a commit that fits (the next command then folds the events: exact, only slower).
 */
function headWithSnapshot(
  orderId: string,
  version: number,
  snapshot: StreamSnapshot | undefined,
  commitBytes: number,
): HeadDocument {
  const bare: HeadDocument = { id: 'head', orderId, kind: 'head', version };
  if (!snapshot) return bare;
  const head: HeadDocument = { ...bare, snapshot };
  const headBytes = Buffer.byteLength(JSON.stringify(head));
  const envelopeBytes = 1024; // operation types, ids, partition keys, ifMatch of the two operations
  const fits =
    headBytes <= maxHeadBytes && headBytes + commitBytes + envelopeBytes <= cosmosLimits.maxBatchBytes;
  return fits ? head : bare;
}

/** The snapshot of a head read back, if it has the shape one has (anything else reads as none). */
function asSnapshot(value: unknown): StreamSnapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as Partial<StreamSnapshot>;
  if (typeof s.schema !== 'string' || !Number.isSafeInteger(s.version) || !('state' in s)) return undefined;
  return { schema: s.schema, version: s.version!, state: s.state };
}

/** @throws CommitTooLargeError when the commit, as stored, could exceed the 2 MB item limit */
function assertItemSize(commit: CommitDocument): void {
  const bytes = Buffer.byteLength(JSON.stringify(commit));
  const limit = cosmosLimits.maxItemBytes - cosmosLimits.itemHeadroomBytes;
  if (bytes > limit) {
    throw new CommitTooLargeError(
      `order ${commit.orderId}: the commit of ${commit.e.length} events is ${bytes} bytes; a Cosmos DB item holds at most ${limit}`,
      bytes,
      limit,
    );
  }
}

/** @throws CommitTooLargeError when the batch has too many operations or too large a payload */
function assertBatchSize(operations: OperationInput[]): void {
  const bytes = Buffer.byteLength(JSON.stringify(operations));
  if (operations.length > cosmosLimits.maxBatchOperations || bytes > cosmosLimits.maxBatchBytes) {
    throw new CommitTooLargeError(
      `a transactional batch holds at most ${cosmosLimits.maxBatchOperations} operations and ${cosmosLimits.maxBatchBytes} bytes; this one has ${operations.length} and ${bytes}`,
      bytes,
      cosmosLimits.maxBatchBytes,
    );
  }
}
