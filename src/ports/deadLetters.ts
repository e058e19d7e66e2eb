/** Why an event was set aside, and the event itself, as stored in a dead-letter store. */
export interface DeadLetterRecord {
  reason: string;
  /** ISO 8601 UTC. */
  deadLetteredAt: string;
  sizeBytes?: number;
  attempts?: number;
  lastStatus?: number;
  event: unknown;
}

/**
 * Keeps events that could not be delivered, per channel (`publisher`, `parked`, `eventgrid-<subscription>`):
 * blobs in a Storage container on Azure (as Event Grid's own dead-lettering does), files locally
 * (docs/adr/0010-state-on-azure-lives-in-azure-services.md).
 * A letter is written whole or not at all; putting the same id again replaces it.
 */
export interface DeadLetterStore {
  put(channel: string, id: string, record: DeadLetterRecord): Promise<void>;
  /** Every letter of a channel, ordered by id; an unknown channel has none. */
  list(channel: string): Promise<DeadLetterRecord[]>;
  /** Removes a letter (after it was replayed); a missing one is not an error. */
  delete(channel: string, id: string): Promise<void>;
}
