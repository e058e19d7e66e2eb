/**
 * The order-journey store: what the `orderJourneyProjection` change-feed function keeps per order, and what
 * the funnel and process-map routes read (docs/analytics.md, "Funnels, journeys and process maps"). One port,
 * two adapters: SQLite locally (src/adapters/sqlite/sqliteJourneyStore.ts), the `orderJourneys` Cosmos DB
 * container on Azure (src/adapters/cosmos/cosmosJourneyStore.ts).
 */

/** One event of an order's journey: its type and both of its times. */
export interface JourneyEvent {
  /** Event type of the catalogue (src/domain/events.ts), e.g. `OrderSubmitted`. */
  type: string;
  /** Stream version of the event (1-based): the order in which the order's events were recorded. */
  version: number;
  /** Business time, ISO 8601 UTC. */
  occurredAt: string;
  /** When the store accepted the event's commit, ISO 8601 UTC. */
  recordedAt: string;
}

/** An order's journey: who and where, and every event of its stream in version order. */
export interface OrderJourney {
  orderId: string;
  customerId: string;
  /** From OrderCreated (`customerState`), when the source recorded it. */
  customerState?: string;
  /** From OrderCreated / OrderCreatedBasedOnAReferral. */
  referralCode?: string;
  /** The currency of the order's first line (one currency per order). */
  currency?: string;
  /** Stream version of the last event projected (= events.length). */
  version: number;
  events: JourneyEvent[];
}

/**
 * Where journeys are kept. `put` is idempotent by version: a journey at or below the stored version changes
 * nothing, so a redelivered change-feed batch is harmless.
 */
export interface JourneyStore {
  get(orderId: string): Promise<OrderJourney | undefined>;
  /** Writes the journey unless the stored one already has this or a later version. */
  put(journey: OrderJourney): Promise<void>;
  /** Every journey, in no particular order, read in pages (the funnel and process map aggregate them all). */
  all(): AsyncIterable<OrderJourney>;
}
