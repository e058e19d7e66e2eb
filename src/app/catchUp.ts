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
  /** Commits brought into the read model. */
  applied: number;
  /** Commits the read model already had (the projection is idempotent by version). */
  skipped: number;
  /** Feed pages read, each projected and written in one go (one transaction on SQLite). */
  pages: number;
  elapsedSeconds: number;
}

/** Commits per feed page of the catch-up (default); an Olist order's commits mostly share a page. */
export const catchUpPageSize = 5000;

/**
 * Brings the order read model up to date with the event store without the host running: reads the feed
 * from the projection's checkpoint in pages, projects each page (projectCommits, the function's own code:
 * each order of the page read once, its commits in the page folded on its stored state without reading its
 * stream, every order written in one `putMany`) and moves the checkpoint after it, until the feed is
 * exhausted. Between pages the event loop gets a turn, and `options.pauseMs` milliseconds when given (leaving
 * SQLite's write lock to a host sharing the database, as the import does between its group commits).
 *
 * Running beside the host is harmless: both apply commits idempotently by version, and a checkpoint one of
 * them moves back only costs a re-read.
 */
export async function catchUpReadModel(
  services: { store: EventStore; readModel: OrderReadModel },
  options: { pageSize?: number; pauseMs?: number } = {},
): Promise<CatchUpResult> {
  const { store, readModel } = services;
  const pageSize = options.pageSize ?? catchUpPageSize;
  const started = performance.now();
  const result = { commits: 0, applied: 0, skipped: 0, pages: 0 };
  let position = await store.getCheckpoint(readModelLease);
  for (;;) {
    const page = await store.readFeed(position, pageSize);
    if (page.commits.length === 0) break;
    const { applied, skipped } = await projectCommits(page.commits as FeedDocument[], readModel, store);
    await store.setCheckpoint(readModelLease, page.position);
    position = page.position;
    result.commits += page.commits.length;
    result.applied += applied;
    result.skipped += skipped;
    result.pages++;
    const pauseMs = options.pauseMs ?? 0;
    await new Promise((resolve) => (pauseMs > 0 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
  }
  return { ...result, elapsedSeconds: (performance.now() - started) / 1000 };
}
