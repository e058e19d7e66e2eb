/**
 * The stock-reservation port: the inventory the order-acceptance orchestration reserves from and releases
 * to. Every operation is idempotent by reservation id, so an activity that runs again (a retry, or a host
 * restarted while it ran) reserves or releases nothing twice.
 */

export interface ReservationRequest {
  /** Chosen by the caller and stable across retries (the acceptance uses `{orderId}/{productId}`). */
  reservationId: string;
  orderId: string;
  productId: string;
  /** Units, a positive integer. */
  quantity: number;
}

export interface Reservation extends ReservationRequest {
  status: 'reserved' | 'released';
  /** ISO 8601 UTC. */
  reservedAt: string;
  releasedAt?: string;
}

/** Not enough stock: retrying will not help until stock is added. */
export class InsufficientStockError extends Error {
  constructor(
    readonly productId: string,
    readonly requested: number,
    readonly available: number,
  ) {
    super(`insufficient stock for ${productId}: ${requested} requested, ${available} available`);
    this.name = 'InsufficientStockError';
  }
}

/** The stock service could not answer this time; a retry may succeed. */
export class StockUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StockUnavailableError';
  }
}

export interface StockReservations {
  /**
   * Reserves `quantity` units, or returns the existing reservation with this id (even a released one,
   * which is not reserved again).
   * @throws InsufficientStockError when the product's available stock is lower than the quantity
   * @throws StockUnavailableError for a transient failure
   */
  reserve(request: ReservationRequest): Promise<Reservation>;
  /** Returns the units to stock; `undefined` when no such reservation exists. A second release changes nothing. */
  release(reservationId: string): Promise<Reservation | undefined>;
  get(reservationId: string): Promise<Reservation | undefined>;
  /** Units still available for a product; `undefined` when its stock is unlimited (not tracked). */
  available(productId: string): Promise<number | undefined>;
  close(): Promise<void>;
}
