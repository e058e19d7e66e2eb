import {
  manifestPath,
  mlTableFiles,
  rollIntentPath,
  stagingPath,
  stagingPrefix,
} from '../analytics/lake/layout';
import {
  emptyManifest,
  LakeManifest,
  mergeStaged,
  nextManifest,
  noneStaged,
  parseManifest,
  planRoll,
  RollIntent,
  rollDue,
  StagedSummary,
  summarizeStaged,
} from '../analytics/lake/manifest';
import { isCommit, lakeEventsOf } from '../analytics/lake/rows';
import { lakeTables } from '../analytics/lake/tables';
import { LakeTarget, ParquetEncoder } from '../ports/eventLake';
import { CommitDocument, EventStore } from '../ports/eventStore';

export interface EventLakeOptions {
  /** Roll staged batches into Parquet once they hold this many bytes (of staged JSON). */
  rollBytes: number;
  /**
   * ... or once the oldest staged batch is this old, in ms (checked when a batch arrives). Batches staged by other
   * instances or processes are counted within min(rollMs, 60 s) (see {@link EventLake.rollIfDue}).
   */
  rollMs: number;
  /** Rows per Parquet file at most; a table's date with more gets several files. */
  maxRowsPerFile: number;
  /** Files written at once during a roll. Default 8. */
  writeConcurrency?: number;
  /** The clock, epoch ms (tests). */
  now?: () => number;
}

export interface RollResult {
  /** The roll's number, or the manifest's when nothing was written. */
  seq: number;
  /** Parquet files written. */
  files: number;
  bytes: number;
  /** Events new to the lake. */
  events: number;
  /** Staged events the lake already had (redeliveries). */
  duplicates: number;
  /** Staged batches taken and removed. */
  batches: number;
}

export interface BackfillProgress {
  commits: number;
  events: number;
  /** Commits skipped because the lake already had every event of them. */
  skipped: number;
}

export interface BackfillResult extends BackfillProgress {
  rolls: RollResult[];
  manifest: LakeManifest;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const parse = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T;

/**
 * The longest {@link EventLake.rollIfDue} goes without listing the staging folder again, in ms; it relists after
 * min(rollMs, this). Between lists it counts only what this instance stages, but batches staged by another instance
 * (a scaled-out app splits the change feed's leases among its instances) or another process (`npm run export` beside
 * the function) show only in a list, and a roll must come for them too. Relisting after min(rollMs, 60 s) bounds
 * how late they count: their bytes count toward `rollBytes` at most that late, and their roll by time comes at most
 * that long after it was due (so within 2 × rollMs of their staging), as long as batches arrive here (the check is
 * per batch, as before). The 60 s cap keeps that lag short under the default rollMs (300 s) at one list a minute,
 * where listing per batch at 50 batches/s meant 3,000. A list also corrects over-counts (a batch redelivered here
 * counted twice, batches another instance rolled), which can only make a roll come early.
 */
const maxRelistMs = 60_000;

/** The fields of a commit the lake keeps in staging (not the Cosmos DB system properties). */
const stagedCommit = (c: CommitDocument): CommitDocument => ({
  id: c.id,
  orderId: c.orderId,
  kind: 'commit',
  i: c.i,
  n: c.n,
  e: c.e,
  recordedAt: c.recordedAt,
});

/**
 * The event lake consumer (docs/adr/0011-event-lake-is-a-change-feed-consumer.md, layout in
 * src/analytics/lake/layout.ts). Fed with change-feed batches by the `eventLake` function, and from the start of
 * the log by {@link backfill} (`npm run export`).
 *
 * Each batch is mapped (upcast) and **staged** as one JSON file named by the hash of its commits' keys, then, when
 * the staged batches reach `rollBytes` or the oldest is `rollMs` old, **rolled** into Parquet under the lake's lock.
 * Whether they have is decided from a summary the instance keeps (total bytes, oldest), not by listing the staging
 * folder for every batch: see {@link rollIfDue}. The roll itself lists what is staged and takes all of it:
 * 1. read the manifest; if `_lake/roll.json` names a roll that never committed (seq above the manifest's), delete
 *    its files: they are the leftovers of a crash;
 * 2. read every staged batch, keep the events above their order's watermark, once each ({@link planRoll});
 * 3. write `_lake/roll.json` (the files about to be written), the Parquet files, the MLTable files of new tables;
 * 4. write the manifest (the commit point: files and raised watermarks in one write), delete `_lake/roll.json`;
 * 5. delete the staged batches it read.
 * A crash before 4 leaves files the next roll deletes and writes again under the same names; a crash after 4
 * leaves staged batches whose events are all at or below the watermarks, which the next roll drops and deletes. A
 * batch delivered again after a crash (the lease had not moved) is staged again and dropped the same way. So no
 * event is ever in two committed files, and none is lost: staging happens before the function returns.
 */
export class EventLake {
  private readonly now: () => number;
  private readonly relistMs: number;

  /**
   * What this instance knows is staged. A list of the staging folder (by {@link rollIfDue}, or by a roll, which then
   * deletes what it listed) sees every batch whose write finished before it started; a batch this instance stages
   * is added once its write returned. So: `listed` (the last list applied), plus `pending` (staged here between the
   * start of that list and the start of the latest, still in flight), plus `recent` (staged here since the latest
   * list started) never misses a batch staged here, and may count one twice (harmless: a roll comes early). A list
   * applies its result only if no list started after it, so one that finishes late cannot drop newer batches.
   */
  private readonly known: {
    /** The last list applied: what it saw, and when it started (epoch ms, `now`). Undefined before the first. */
    listed?: { summary: StagedSummary; at: number };
    /** Incremented when a list starts. */
    generation: number;
    pending: StagedSummary;
    recent: StagedSummary;
  } = { generation: 0, pending: noneStaged, recent: noneStaged };

  constructor(
    readonly target: LakeTarget,
    private readonly encoder: ParquetEncoder,
    private readonly options: EventLakeOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.relistMs = Math.min(options.rollMs, maxRelistMs);
  }

  /**
   * Stages a change-feed batch (documents that are not commits are ignored) and rolls when due.
   * @throws UnknownEventError, LakeMappingError (src/analytics/lake/rows.ts) for an event the lake cannot map:
   * the trigger retries the batch until code that knows it is deployed
   * @returns the roll, when one ran
   */
  async consume(documents: readonly unknown[]): Promise<RollResult | undefined> {
    await this.stage(documents);
    return this.rollIfDue();
  }

  /** Stages a batch (idempotent: the same batch gets the same name). Returns how many events it holds. */
  async stage(documents: readonly unknown[]): Promise<number> {
    const commits = documents.filter(isCommit).map(stagedCommit);
    if (commits.length === 0) return 0;
    const events = lakeEventsOf(commits).length; // maps now, so a bad event fails its own batch
    const bytes = json(commits);
    await this.target.write(stagingPath(commits), bytes, 'application/json');
    // Counted after the write, so a list that started before this line sees the file (see `known`). A redelivered
    // batch (same name, same content) is counted again: that over-counts bytes until the next list, which can
    // only make a roll come early; the roll itself takes what it lists.
    const staged = { batches: 1, bytes: bytes.byteLength, oldestAt: this.now() };
    this.known.recent = mergeStaged(this.known.recent, staged);
    return events;
  }

  /**
   * Rolls when the staged batches are due ({@link rollDue}); undefined when they are not. Decides from what this
   * instance knows is staged (total bytes; oldest `stagedAt`, epoch ms: a file's last write for listed batches,
   * `now` at staging for those it staged since), listing the staging folder only the first time and then when the
   * last list is min(rollMs, 60 s) old (`maxRelistMs`), so that batches staged elsewhere count too.
   */
  async rollIfDue(): Promise<RollResult | undefined> {
    const listed = this.known.listed;
    if (!listed || this.now() - listed.at >= this.relistMs) {
      const apply = this.startList();
      const files = await this.target.list(stagingPrefix);
      apply(summarizeStaged(files.map((f) => ({ bytes: f.bytes, stagedAt: f.modifiedAt }))));
    }
    const { pending, recent } = this.known;
    const s = mergeStaged(mergeStaged(this.known.listed?.summary ?? noneStaged, pending), recent);
    const due = rollDue(
      s.batches > 0 ? [{ bytes: s.bytes, stagedAt: s.oldestAt }] : [],
      this.now(),
      this.options,
    );
    return due ? this.roll() : undefined;
  }

  /**
   * Notes that a list of the staging folder starts (see `known`); call right before listing. Returns the function
   * that applies what is staged after the list: what it saw, or, after a roll, nothing (the roll deleted it).
   */
  private startList(): (summary: StagedSummary) => void {
    const generation = ++this.known.generation;
    const at = this.now();
    this.known.pending = mergeStaged(this.known.pending, this.known.recent);
    this.known.recent = noneStaged;
    return (summary) => {
      if (generation !== this.known.generation) return; // a later list started: it counts what this one saw
      this.known.listed = { summary, at };
      this.known.pending = noneStaged;
    };
  }

  /** The committed manifest (an empty one before the first roll). @throws ManifestFormatError */
  async manifest(): Promise<LakeManifest> {
    const bytes = await this.target.read(manifestPath);
    return bytes ? parseManifest(new TextDecoder().decode(bytes)) : emptyManifest();
  }

  /**
   * Rolls every staged batch into Parquet now, under the lake's lock (see the class): what it lists, whoever staged
   * it. Resets what this instance counts as staged to the batches staged after that list.
   */
  async roll(): Promise<RollResult> {
    return this.target.withLock(async () => {
      const manifest = await this.manifest();
      await this.clearAbandonedRoll(manifest);
      const listed = this.startList();
      const staged = (await this.target.list(stagingPrefix)).map((s) => s.path).sort();
      const documents: unknown[] = [];
      for (const path of staged) {
        const bytes = await this.target.read(path);
        if (bytes) documents.push(...parse<unknown[]>(bytes));
      }
      const plan = planRoll(manifest, lakeEventsOf(documents), this.options.maxRowsPerFile);
      const sizes = new Map<string, number>();
      if (plan.files.length > 0) {
        const intent: RollIntent = { seq: plan.seq, paths: plan.files.map((f) => f.path) };
        await this.target.write(rollIntentPath, json(intent), 'application/json');
        const tables = new Map(lakeTables.map((t) => [t.name, t]));
        await forEachLimited(plan.files, this.options.writeConcurrency ?? 8, async (f) => {
          const bytes = await this.encoder.encode(tables.get(f.table)!.columns, f.rows);
          await this.target.write(f.path, bytes, 'application/vnd.apache.parquet');
          sizes.set(f.path, bytes.byteLength);
        });
        const known = new Set(manifest.files.map((f) => f.table));
        for (const m of mlTableFiles(
          [...new Set(plan.files.map((f) => f.table))].filter((t) => !known.has(t)),
        )) {
          await this.target.write(m.path, new TextEncoder().encode(m.text), 'application/yaml');
        }
        await this.target.write(manifestPath, json(nextManifest(manifest, plan, sizes)), 'application/json');
        await this.target.delete(rollIntentPath);
      }
      for (const path of staged) await this.target.delete(path);
      // What it listed is rolled and deleted; batches staged since are counted in `known.recent`. A roll that
      // throws before here leaves the count as it was (its batches are still staged, and still counted).
      listed(noneStaged);
      return {
        seq: plan.files.length > 0 ? plan.seq : manifest.seq,
        files: plan.files.length,
        bytes: [...sizes.values()].reduce((a, b) => a + b, 0),
        events: plan.events,
        duplicates: plan.duplicates,
        batches: staged.length,
      };
    });
  }

  /** Deletes the files of a roll that wrote some but never committed its manifest (a crash). */
  private async clearAbandonedRoll(manifest: LakeManifest): Promise<void> {
    const bytes = await this.target.read(rollIntentPath);
    if (!bytes) return;
    const intent = parse<RollIntent>(bytes);
    if (intent.seq > manifest.seq) for (const path of intent.paths) await this.target.delete(path);
    await this.target.delete(rollIntentPath);
  }

  /**
   * Writes the whole log from its beginning (`store.readFeed` from no position): pages of `pageSize` commits are
   * staged, rolled when due, and rolled once more at the end, so everything read is in Parquet when it returns.
   * Commits whose every event the lake already has (at or below the watermark) are skipped, so a backfill over a
   * lake the change-feed function keeps writes only what is missing, and a second backfill writes nothing.
   */
  async backfill(
    store: EventStore,
    options: { pageSize?: number; onProgress?: (p: BackfillProgress) => void } = {},
  ): Promise<BackfillResult> {
    const watermarks = new Map((await this.manifest()).watermarks);
    const progress: BackfillProgress = { commits: 0, events: 0, skipped: 0 };
    const rolls: RollResult[] = [];
    let position: string | undefined;
    for (;;) {
      const page = await store.readFeed(position, options.pageSize ?? 1000);
      if (page.commits.length === 0) break;
      position = page.position;
      const missing = page.commits.filter((c) => c.n > (watermarks.get(c.orderId) ?? 0));
      progress.commits += page.commits.length;
      progress.skipped += page.commits.length - missing.length;
      progress.events += await this.stage(missing);
      const roll = await this.rollIfDue();
      if (roll) rolls.push(roll);
      options.onProgress?.({ ...progress });
    }
    rolls.push(await this.roll());
    return { ...progress, rolls, manifest: await this.manifest() };
  }
}

/** Runs `fn` over items with at most `limit` calls in flight. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
