import { Container } from '@azure/cosmos';
import { JourneyStore, OrderJourney } from '../../ports/journeyStore';
import { explain, RequestChargeListener, statusOf } from './connection';

/** One journey in the `orderJourneys` container (partition key `/orderId`, id = orderId). */
interface JourneyDocument {
  id: string;
  orderId: string;
  version: number;
  journey: OrderJourney;
}

const maxPutRounds = 5;

/**
 * Order journeys on Cosmos DB. `put` is idempotent by version, as the read model's (read, then replace with
 * `ifMatch` or create; losing a race to an equal or newer version is fine). `all` is a cross-partition read of
 * the whole container, page by page (the SDK's continuation), what the funnel and the process map aggregate.
 */
export class CosmosJourneyStore implements JourneyStore {
  constructor(
    private readonly container: Container,
    private readonly onRequestCharge: RequestChargeListener = () => {},
  ) {}

  async get(orderId: string): Promise<OrderJourney | undefined> {
    return (await this.read(orderId))?.journey;
  }

  /** @throws CosmosStoreError when Cosmos DB fails, or five rounds of races all lost without a newer version winning */
  async put(journey: OrderJourney): Promise<void> {
    const doc: JourneyDocument = {
      id: journey.orderId,
      orderId: journey.orderId,
      version: journey.version,
      journey,
    };
    for (let round = 0; round < maxPutRounds; round++) {
      const existing = await this.read(journey.orderId);
      if (existing && existing.version >= journey.version) return;
      try {
        const response = existing
          ? await this.container
              .item(journey.orderId, journey.orderId)
              .replace(doc, { accessCondition: { type: 'IfMatch', condition: existing._etag } })
          : await this.container.items.create(doc);
        this.onRequestCharge('journeys.put', response.requestCharge);
        return;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw explain(`put of journey ${journey.orderId}`, err);
      }
    }
    throw explain(
      `put of journey ${journey.orderId}`,
      new Error(`still contended after ${maxPutRounds} rounds`),
    );
  }

  /** @throws CosmosStoreError when a page cannot be read */
  async *all(): AsyncIterable<OrderJourney> {
    const iterator = this.container.items.query<{ journey: OrderJourney }>('SELECT c.journey FROM c', {
      maxItemCount: 1000,
    });
    while (iterator.hasMoreResults()) {
      let page;
      try {
        page = await iterator.fetchNext();
      } catch (err) {
        throw explain('read of the journeys', err);
      }
      this.onRequestCharge('journeys.all', page.requestCharge);
      for (const r of page.resources) yield r.journey;
    }
  }

  private async read(orderId: string): Promise<(JourneyDocument & { _etag: string }) | undefined> {
    try {
      const response = await this.container
        .item(orderId, orderId)
        .read<JourneyDocument & { _etag: string }>();
      this.onRequestCharge('journeys.get', response.requestCharge);
      return response.resource;
    } catch (err) {
      throw explain(`read of journey ${orderId}`, err);
    }
  }
}
