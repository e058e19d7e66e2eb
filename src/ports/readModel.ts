import { OrderSummary } from '../domain/orderView';
import { OrderState } from '../domain/state';
import { OrderStatus } from '../domain/state';

/** One order in the read model: its summary plus the folded state the projection continues from. */
export interface ReadModelEntry {
  summary: OrderSummary;
  state: OrderState;
}

export interface OrderListQuery {
  status?: OrderStatus;
  customerId?: string;
  /** Page size, 1-1000. */
  limit: number;
  /** Opaque token from the previous page. */
  continuationToken?: string;
}

export interface OrderListPage {
  items: OrderSummary[];
  /** Present when more items follow. */
  continuationToken?: string;
}

/** The continuation token could not be read; API: 400 naming `continuationToken`. */
export class InvalidContinuationTokenError extends Error {}

/**
 * The order read model port: a projection of the change feed, listed newest first
 * (by `createdAt`, then `orderId`, both descending) with keyset paging.
 */
export interface OrderReadModel {
  get(orderId: string): Promise<ReadModelEntry | undefined>;
  /** Writes the entry unless the stored one already has this or a later version (idempotent by version). */
  put(entry: ReadModelEntry): Promise<void>;
  /**
   * `put` for several orders (one entry per order): SQLite writes them in one transaction (a projection writes
   * a change-feed page at once), Cosmos DB one write each, a few at a time. Idempotent by version as `put`.
   * @throws what `put` throws; on Cosmos DB some entries may be written by then (a re-run is harmless)
   */
  putMany(entries: ReadModelEntry[]): Promise<void>;
  /** @throws InvalidContinuationTokenError */
  list(query: OrderListQuery): Promise<OrderListPage>;
  /** How many orders have each status: every status of `orderStatuses`, zero included, in that order. */
  countByStatus(): Promise<StatusCount[]>;
}

/** The number of orders in one status. */
export interface StatusCount {
  status: OrderStatus;
  count: number;
}

interface PageKey {
  c: string;
  o: string;
}

export function encodeToken(key: PageKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeToken(token: string): PageKey {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as PageKey;
    // A token names a position: a creation time and an order id, both as this service writes them.
    const isTime =
      typeof key.c === 'string' && !Number.isNaN(Date.parse(key.c)) && /^\d{4}-\d{2}-\d{2}T/.test(key.c);
    if (isTime && typeof key.o === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(key.o)) return key;
  } catch {
    // fall through to the error below
  }
  throw new InvalidContinuationTokenError('continuationToken is not a token this service issued');
}
