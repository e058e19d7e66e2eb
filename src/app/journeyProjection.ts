import { extendJourney } from '../analytics/funnel/journey';
import { CommitDocument, EventStore, eventsOfCommit, RecordedEvent } from '../ports/eventStore';
import { JourneyStore, OrderJourney } from '../ports/journeyStore';
import type { FeedDocument } from './projection';

const isCommit = (d: FeedDocument): d is CommitDocument => d.kind === 'commit' && Array.isArray(d.e);

/**
 * The `orderJourneyProjection` lease: its `leaseContainerPrefix` ('orderJourney-', src/functions/analytics.ts)
 * + its name, as the local host's change feed composes it (src/local/changeFeed.ts).
 */
export const journeyLease = 'orderJourney-' + 'orderJourneyProjection';

/**
 * The order-journey projection, fed with change-feed documents in per-order commit order: each order's
 * journey (src/ports/journeyStore.ts) gets the events of its new commits, one write per order and batch.
 * Idempotent by version: commits at or below the stored version are skipped; commits that would leave a gap
 * (a lost or reordered delivery) make it rebuild the order's journey from its stream up to the newest commit.
 * Documents that are not commits (the Cosmos head) are ignored.
 * @returns orders written and commits skipped
 */
export async function projectJourneys(
  documents: FeedDocument[],
  journeys: JourneyStore,
  store: EventStore,
): Promise<{ applied: number; skipped: number }> {
  // Maps: order ids are keys, and they come from stored documents.
  const byOrder = new Map<string, CommitDocument[]>();
  for (const doc of documents) {
    if (!isCommit(doc)) continue;
    const list = byOrder.get(doc.orderId);
    if (list) list.push(doc);
    else byOrder.set(doc.orderId, [doc]);
  }
  const extended: OrderJourney[] = [];
  let skipped = 0;
  for (const [orderId, commits] of byOrder) {
    const stored = await journeys.get(orderId);
    const version = stored?.version ?? 0;
    const fresh = commits.filter((c) => c.n > version).sort((a, b) => a.i - b.i);
    skipped += commits.length - fresh.length;
    if (fresh.length === 0) continue;
    const contiguous = fresh.every((c, k) => c.i === (k === 0 ? version : fresh[k - 1].n));
    const upTo = fresh[fresh.length - 1].n;
    let events: RecordedEvent[];
    if (contiguous) events = fresh.flatMap(eventsOfCommit);
    else
      events = (await store.readStream(orderId, { toVersion: upTo })).events.filter(
        (e) => e.version > version,
      );
    extended.push(extendJourney(stored, orderId, events));
  }
  // Written together: on SQLite one transaction for the batch, on Cosmos DB requests in parallel.
  await Promise.all(extended.map((journey) => journeys.put(journey)));
  return { applied: extended.length, skipped };
}
