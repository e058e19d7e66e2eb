import { Container } from '@azure/cosmos';
import { FeedProgress, FeedProgressStore } from '../../ports/feedProgress';
import { explain, RequestChargeListener } from './connection';

interface ProgressDoc extends FeedProgress {
  id: string;
  kind: 'feedProgress';
}

const idOf = (consumer: string): string => `feedProgress.${consumer}`;

/**
 * Change-feed progress in the leases container (partition key `/id`), one document per consumer beside the
 * trigger's own leases (whose ids start with each function's lease prefix, so the trigger never reads these).
 * `record` reads then upserts: two consumers never share a document, and two batches of one consumer racing
 * can at worst keep the older time until the next batch, which is acceptable for a monitoring figure.
 */
export class CosmosFeedProgress implements FeedProgressStore {
  constructor(
    private readonly leases: Container,
    private readonly onRequestCharge: RequestChargeListener = () => undefined,
  ) {}

  /** @throws CosmosStoreError when the read or the write fails */
  async record(consumer: string, lastRecordedAt: string): Promise<void> {
    const id = idOf(consumer);
    try {
      const current = await this.leases.item(id, id).read<ProgressDoc>();
      this.onRequestCharge('leases.readFeedProgress', current.requestCharge);
      if (current.resource && current.resource.lastRecordedAt > lastRecordedAt) return;
      const doc: ProgressDoc = {
        id,
        kind: 'feedProgress',
        consumer,
        lastRecordedAt,
        processedAt: new Date().toISOString(),
      };
      const written = await this.leases.items.upsert(doc);
      this.onRequestCharge('leases.recordFeedProgress', written.requestCharge);
    } catch (err) {
      throw explain(`record of the progress of ${consumer}`, err);
    }
  }

  /** @throws CosmosStoreError when the query fails */
  async list(): Promise<FeedProgress[]> {
    try {
      const response = await this.leases.items
        .query<ProgressDoc>("SELECT * FROM c WHERE c.kind = 'feedProgress'")
        .fetchAll();
      this.onRequestCharge('leases.listFeedProgress', response.requestCharge);
      return response.resources
        .map(({ consumer, lastRecordedAt, processedAt }) => ({ consumer, lastRecordedAt, processedAt }))
        .sort((a, b) => (a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : 0));
    } catch (err) {
      throw explain('read of the change-feed progress', err);
    }
  }
}
