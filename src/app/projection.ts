import { fold } from '../domain/decider';
import { initialState } from '../domain/state';
import { CommitDocument, EventStore, StoredEventRecord } from '../ports/eventStore';
import { OrderReadModel, ReadModelEntry } from '../ports/readModel';
import { toDomainEvent } from './orderService';
import { toOrderView, toSummary } from '../domain/orderView';

/** A document from the change feed: a commit, or anything else in the container (the head) to ignore. */
export type FeedDocument = { kind?: string } & Partial<CommitDocument>;

const isCommit = (d: FeedDocument): d is CommitDocument => d.kind === 'commit' && Array.isArray(d.e);

/**
 * The order read-model projection, fed with change-feed documents in per-order commit order.
 * Idempotent by version: a commit at or below the stored version is skipped. Each order of the batch is
 * read once and written once (`putMany`: one transaction on SQLite): when the batch holds its commits
 * contiguously from the stored version, they are folded on the stored state; otherwise (a gap: a lost or
 * reordered delivery, or an order the read model lacks whose first commits are not in the batch) the order
 * is rebuilt from its stream up to its last commit in the batch instead of guessing.
 * @returns `applied`: commits brought into the read model; `skipped`: commits it already had
 */
export async function projectCommits(
  documents: FeedDocument[],
  readModel: OrderReadModel,
  store: EventStore,
): Promise<{ applied: number; skipped: number }> {
  const byOrder = new Map<string, CommitDocument[]>();
  for (const doc of documents) {
    if (!isCommit(doc)) continue;
    const list = byOrder.get(doc.orderId);
    if (list) list.push(doc);
    else byOrder.set(doc.orderId, [doc]);
  }
  let applied = 0;
  let skipped = 0;
  const entries: ReadModelEntry[] = [];
  for (const [orderId, commits] of byOrder) {
    const entry = await readModel.get(orderId);
    const version = entry?.summary.version ?? 0;
    const pending = commits.filter((c) => c.n > version).sort((a, b) => a.i - b.i);
    skipped += commits.length - pending.length;
    if (pending.length === 0) continue;
    const upTo = pending[pending.length - 1].n;
    const contiguous = pending.every((c, k) => c.i === (k === 0 ? version : pending[k - 1].n));
    // The events as stored (no version stamped on each: only the last one's is needed).
    let events: StoredEventRecord[];
    let lastVersion = upTo;
    let from = initialState();
    if (contiguous) {
      events = pending.flatMap((c) => c.e);
      if (entry) from = entry.state;
    } else {
      const stream = (await store.readStream(orderId)).events.filter((e) => e.version <= upTo);
      if (stream.length === 0) continue; // the store does not show the commits yet: the next delivery will
      lastVersion = stream[stream.length - 1].version;
      events = stream;
    }
    const state = fold(events.map(toDomainEvent), from);
    const view = toOrderView(orderId, state, lastVersion, events[events.length - 1].occurredAt);
    entries.push({ summary: toSummary(view), state });
    applied += pending.length;
  }
  await readModel.putMany(entries);
  return { applied, skipped };
}
