import { CommitDocument } from '../ports/eventStore';
import { FeedDocument, projectCommits } from './projection';
import { EventStore } from '../ports/eventStore';
import { OrderReadModel } from '../ports/readModel';

/**
 * The lease (checkpoint) of the `orderReadModelProjection` change-feed function: its
 * `leaseContainerPrefix` ('orderReadModel-', src/functions/orderProjection.ts) + its name, as the local
 * host's change feed composes it (src/local/changeFeed.ts). Sharing it means the host, when it starts,
 * continues where a catch-up stopped instead of re-reading the whole feed.
 */
export const readModelLease = 'orderReadModel-' + 'orderReadModelProjection';

export interface CatchUpResult {
  /** Commit documents read from the feed. */
  commits: number;
  /** Commits handed to the projection: the last one of each order in each page (see below). */
  projected: number;
  applied: number;
  /** Commits the read model already had (the projection is idempotent by version). */
  skipped: number;
  elapsedSeconds: number;
}

/**
 * Brings the order read model up to date with the event store without the host running: reads the feed
 * from the projection's checkpoint in pages, projects each page (projectCommits, the function's own code)
 * and moves the checkpoint after it, until the feed is exhausted.
 *
 * Within a page only the last commit of each order is projected: projectCommits rebuilds an order whose
 * read-model version is behind that commit from its stream up to the commit, so the result is the same as
 * projecting every commit, with one read-model write per order and page instead of one per commit (an
 * import writes an order's commits back to back; measured 4x faster on the Olist sample).
 *
 * Running beside the host is harmless: both apply commits idempotently by version, and a checkpoint one of
 * them moves back only costs a re-read.
 */
export async function catchUpReadModel(
  services: { store: EventStore; readModel: OrderReadModel },
  options: { pageSize?: number } = {},
): Promise<CatchUpResult> {
  const { store, readModel } = services;
  const pageSize = options.pageSize ?? 500;
  const started = performance.now();
  const result = { commits: 0, projected: 0, applied: 0, skipped: 0 };
  let position = await store.getCheckpoint(readModelLease);
  for (;;) {
    const page = await store.readFeed(position, pageSize);
    if (page.commits.length === 0) break;
    const latest = lastCommitPerOrder(page.commits);
    const { applied, skipped } = await projectCommits(latest as FeedDocument[], readModel, store);
    await store.setCheckpoint(readModelLease, page.position);
    position = page.position;
    result.commits += page.commits.length;
    result.projected += latest.length;
    result.applied += applied;
    result.skipped += skipped;
  }
  return { ...result, elapsedSeconds: (performance.now() - started) / 1000 };
}

/** The last commit of each order in feed order (the feed holds an order's commits in version order). */
function lastCommitPerOrder(commits: CommitDocument[]): CommitDocument[] {
  const last = new Map<string, CommitDocument>();
  for (const c of commits) {
    const seen = last.get(c.orderId);
    if (!seen || c.n > seen.n) last.set(c.orderId, c);
  }
  return [...last.values()];
}
