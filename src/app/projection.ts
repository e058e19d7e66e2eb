import { fold } from '../domain/decider';
import { initialState } from '../domain/state';
import { CommitDocument, EventStore, eventsOfCommit } from '../ports/eventStore';
import { OrderReadModel } from '../ports/readModel';
import { toDomainEvent } from './orderService';
import { toOrderView, toSummary } from '../domain/orderView';

/** A document from the change feed: a commit, or anything else in the container (the head) to ignore. */
export type FeedDocument = { kind?: string } & Partial<CommitDocument>;

const isCommit = (d: FeedDocument): d is CommitDocument => d.kind === 'commit' && Array.isArray(d.e);

/**
 * The order read-model projection, fed with change-feed documents in per-order commit order.
 * Idempotent by version: a commit at or below the stored version is skipped; a commit that would leave a
 * gap (a lost or reordered delivery) rebuilds the order from its stream instead of guessing.
 */
export async function projectCommits(
  documents: FeedDocument[],
  readModel: OrderReadModel,
  store: EventStore,
): Promise<{ applied: number; skipped: number }> {
  let applied = 0;
  let skipped = 0;
  for (const doc of documents) {
    if (!isCommit(doc)) continue;
    const entry = await readModel.get(doc.orderId);
    const version = entry?.summary.version ?? 0;
    if (version >= doc.n) {
      skipped++;
      continue;
    }
    const events =
      version === doc.i
        ? eventsOfCommit(doc)
        : (await store.readStream(doc.orderId)).events.filter((e) => e.version <= doc.n);
    const from = version === doc.i && entry ? entry.state : initialState();
    const state = fold(events.map(toDomainEvent), from);
    const last = events[events.length - 1];
    const view = toOrderView(doc.orderId, state, last.version, last.occurredAt);
    await readModel.put({ summary: toSummary(view), state });
    applied++;
  }
  return { applied, skipped };
}
