import { dataFilePath } from './layout';
import { eventsRow, LakeEvent, LakeRow, typeRow } from './rows';
import { eventsTable, typeTable } from './tables';

/**
 * The lake's manifest (`_lake/manifest.json`) and the planning of a roll: which staged events become which
 * Parquet files. Pure: the app (src/app/eventLake.ts) reads and writes through the `LakeTarget` port.
 *
 * Idempotence rests on one invariant: an event `(orderId, version)` is in a committed file only if the
 * manifest's watermark of its order is at least `version`, and then in exactly one. A roll keeps only staged
 * events above their order's watermark (the change feed delivers each order's commits in order, so what is at or
 * below it is a redelivery), writes the files, then commits the manifest with the raised watermarks in one write.
 */

/** A committed data file: where, which table and date, how many rows, and the (orderId, version) range. */
export interface ManifestFile {
  path: string;
  table: string;
  date: string;
  rows: number;
  bytes: number;
  /** The roll that wrote it. */
  seq: number;
  /** First and last (orderId, version) in the file, in its order (orderId, then version). */
  first: [string, number];
  last: [string, number];
}

export interface LakeManifest {
  format: 1;
  /** Number of the last committed roll (0: none). */
  seq: number;
  /** Rows of the `events` table. */
  events: number;
  files: ManifestFile[];
  /** Per order, the highest version in the lake, as `[orderId, version]` pairs (JSON has no Map). */
  watermarks: [string, number][];
}

/** The roll in progress (`_lake/roll.json`), written before its first file: what to delete if it never commits. */
export interface RollIntent {
  seq: number;
  paths: string[];
}

export const emptyManifest = (): LakeManifest => ({
  format: 1,
  seq: 0,
  events: 0,
  files: [],
  watermarks: [],
});

export class ManifestFormatError extends Error {}

/**
 * Parses a manifest's JSON text.
 * @throws ManifestFormatError when it is not a manifest of format 1
 */
export function parseManifest(text: string): LakeManifest {
  const m = JSON.parse(text) as Partial<LakeManifest>;
  if (
    m?.format !== 1 ||
    !Number.isSafeInteger(m.seq) ||
    !Array.isArray(m.files) ||
    !Array.isArray(m.watermarks)
  ) {
    throw new ManifestFormatError('not an event lake manifest of format 1');
  }
  return m as LakeManifest;
}

/** One Parquet file a roll writes: its path, table and rows, sorted by (orderId, version). */
export interface PlannedFile {
  path: string;
  table: string;
  date: string;
  rows: LakeRow[];
  first: [string, number];
  last: [string, number];
}

export interface RollPlan {
  seq: number;
  files: PlannedFile[];
  /** The events that are new to the lake (the rows of `events`). */
  events: number;
  /** Staged events dropped because the lake already has them (redeliveries). */
  duplicates: number;
  /** The watermarks after the roll. */
  watermarks: Map<string, number>;
}

const byKey = (a: LakeEvent, b: LakeEvent): number =>
  a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : a.version - b.version;

/**
 * Plans the roll that follows `manifest`: the staged events not yet in the lake, deduplicated by
 * (orderId, version), grouped into one file per table and business date (more when a group has over
 * `maxRowsPerFile` rows), named by the roll's number, so that a roll that crashed before its manifest was committed
 * is planned again under the same names (see src/app/eventLake.ts).
 */
export function planRoll(
  manifest: LakeManifest,
  staged: readonly LakeEvent[],
  maxRowsPerFile: number,
): RollPlan {
  const watermarks = new Map(manifest.watermarks);
  const fresh = new Map<string, LakeEvent>();
  let duplicates = 0;
  for (const e of staged) {
    const key = `${e.orderId}\u0000${e.version}`;
    if (e.version <= (watermarks.get(e.orderId) ?? 0) || fresh.has(key)) duplicates++;
    else fresh.set(key, e);
  }
  const events = [...fresh.values()].sort(byKey);
  const seq = manifest.seq + 1;
  // Group by table and date; Maps, as the keys hold dates and type names taken from events.
  const groups = new Map<string, { table: string; date: string; events: LakeEvent[] }>();
  const add = (table: string, e: LakeEvent) => {
    const key = `${table}\u0000${e.date}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { table, date: e.date, events: [] }));
    g.events.push(e);
  };
  for (const e of events) {
    add(eventsTable.name, e);
    add(typeTable(e.type).name, e);
    if (e.version > (watermarks.get(e.orderId) ?? 0)) watermarks.set(e.orderId, e.version);
  }
  const files: PlannedFile[] = [];
  const per = Math.max(1, maxRowsPerFile);
  for (const g of [...groups.values()].sort((a, b) => (a.table + a.date < b.table + b.date ? -1 : 1))) {
    for (let k = 0; k * per < g.events.length; k++) {
      const chunk = g.events.slice(k * per, (k + 1) * per);
      const toRow = g.table === eventsTable.name ? eventsRow : typeRow;
      files.push({
        path: dataFilePath(g.table, g.date, seq, k),
        table: g.table,
        date: g.date,
        rows: chunk.map(toRow),
        first: [chunk[0].orderId, chunk[0].version],
        last: [chunk[chunk.length - 1].orderId, chunk[chunk.length - 1].version],
      });
    }
  }
  return { seq, files, events: events.length, duplicates, watermarks };
}

/** The manifest after a roll whose files were written with these sizes. */
export function nextManifest(
  manifest: LakeManifest,
  plan: RollPlan,
  bytes: ReadonlyMap<string, number>,
): LakeManifest {
  return {
    format: 1,
    seq: plan.seq,
    events: manifest.events + plan.events,
    files: [
      ...manifest.files,
      ...plan.files.map((f) => ({
        path: f.path,
        table: f.table,
        date: f.date,
        rows: f.rows.length,
        bytes: bytes.get(f.path) ?? 0,
        seq: plan.seq,
        first: f.first,
        last: f.last,
      })),
    ],
    watermarks: [...plan.watermarks.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  };
}

/**
 * Staged batches in sum: how many, their total size (bytes of staged JSON), and when the oldest was staged (epoch
 * ms; `Infinity` when there are none).
 */
export interface StagedSummary {
  batches: number;
  bytes: number;
  oldestAt: number;
}

export const noneStaged: StagedSummary = { batches: 0, bytes: 0, oldestAt: Infinity };

/** The summary of staged batches (`stagedAt` in epoch ms). */
export function summarizeStaged(staged: readonly { bytes: number; stagedAt: number }[]): StagedSummary {
  let bytes = 0;
  let oldestAt = Infinity;
  for (const s of staged) {
    bytes += s.bytes;
    if (s.stagedAt < oldestAt) oldestAt = s.stagedAt;
  }
  return { batches: staged.length, bytes, oldestAt };
}

/** The summary of the batches of both. */
export function mergeStaged(a: StagedSummary, b: StagedSummary): StagedSummary {
  return {
    batches: a.batches + b.batches,
    bytes: a.bytes + b.bytes,
    oldestAt: Math.min(a.oldestAt, b.oldestAt),
  };
}

/**
 * Whether staged batches are due to be rolled into Parquet: their total size reached `rollBytes`, or the oldest
 * was staged at least `rollMs` ago (`now` and `stagedAt` in epoch ms). One entry may stand for many batches (their
 * total bytes, the oldest's `stagedAt`). A `stagedAt` after `now` (a file time finer than `now`'s milliseconds, or
 * another machine's clock) counts as staged just now: with `rollMs` 0 every staged batch is due.
 */
export function rollDue(
  staged: readonly { bytes: number; stagedAt: number }[],
  now: number,
  limits: { rollBytes: number; rollMs: number },
): boolean {
  const s = summarizeStaged(staged);
  return s.batches > 0 && (s.bytes >= limits.rollBytes || Math.max(0, now - s.oldestAt) >= limits.rollMs);
}
