/**
 * How far each change-feed consumer has come, for the overview's change-feed lag (`GET /api/overview`). The
 * Functions Cosmos DB trigger keeps its own leases (continuation tokens per feed range, which say nothing
 * about time), so each consumer also records, after every batch it finished, the newest `recordedAt` of that
 * batch. Monitoring only: a lost record is overwritten by the next batch.
 */

/** One consumer's progress. */
export interface FeedProgress {
  /** The change-feed function's name, e.g. `orderReadModelProjection`. */
  consumer: string;
  /** The newest `recordedAt` it has processed, ISO 8601 UTC. */
  lastRecordedAt: string;
  /** When it finished the batch that moved `lastRecordedAt`, ISO 8601 UTC. */
  processedAt: string;
}

/**
 * Where progress is kept: SQLite locally (src/adapters/sqlite/sqliteFeedProgress.ts), the leases container on
 * Azure (src/adapters/cosmos/cosmosFeedProgress.ts).
 */
export interface FeedProgressStore {
  /**
   * Records that `consumer` has processed up to `lastRecordedAt` (ISO 8601 UTC); a time older than the one
   * stored (a redelivered batch) changes nothing.
   */
  record(consumer: string, lastRecordedAt: string): Promise<void>;
  /** Every consumer's progress, by consumer name. */
  list(): Promise<FeedProgress[]>;
}
