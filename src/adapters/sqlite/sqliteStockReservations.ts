import {
  InsufficientStockError,
  Reservation,
  ReservationRequest,
  StockReservations,
  StockUnavailableError,
} from '../../ports/stockReservations';
import { closeDatabase, SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS stock_reservations (
  reservation_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('reserved', 'released')),
  reserved_at TEXT NOT NULL,
  released_at TEXT
);
CREATE INDEX IF NOT EXISTS stock_reservations_product ON stock_reservations (product_id, status);
CREATE TABLE IF NOT EXISTS stock_reservation_attempts (
  reservation_id TEXT PRIMARY KEY,
  attempts INTEGER NOT NULL
);
`;

interface Row {
  reservation_id: string;
  order_id: string;
  product_id: string;
  quantity: number;
  status: 'reserved' | 'released';
  reserved_at: string;
  released_at: string | null;
}

const toReservation = (r: Row): Reservation => ({
  reservationId: r.reservation_id,
  orderId: r.order_id,
  productId: r.product_id,
  quantity: r.quantity,
  status: r.status,
  reservedAt: r.reserved_at,
  ...(r.released_at ? { releasedAt: r.released_at } : {}),
});

export interface SqliteStockOptions {
  /** Stock level per product; a product not listed is unlimited. Available = level − units reserved now. */
  levels: ReadonlyMap<string, number>;
  /** Simulated transient failures: the first N reservation attempts per reservation id of a product fail. */
  failures?: ReadonlyMap<string, number>;
  clock?: () => Date;
}

/**
 * Stock reservations in the embedded database. Available stock is derived, never stored: the product's
 * level from settings minus the units of its current reservations, checked and reserved in one IMMEDIATE
 * transaction, so two orders cannot both take the last unit.
 */
export class SqliteStockReservations implements StockReservations {
  private readonly reserveTx;
  private readonly levels: ReadonlyMap<string, number>;
  private readonly failures: ReadonlyMap<string, number>;
  private readonly clock: () => Date;

  constructor(
    private readonly db: SqliteDatabase,
    options: SqliteStockOptions,
  ) {
    db.exec(schema);
    this.levels = options.levels;
    this.failures = options.failures ?? new Map();
    this.clock = options.clock ?? (() => new Date());
    const find = db.prepare('SELECT * FROM stock_reservations WHERE reservation_id = ?');
    const reservedUnits = db.prepare(
      "SELECT COALESCE(SUM(quantity), 0) AS units FROM stock_reservations WHERE product_id = ? AND status = 'reserved'",
    );
    const insert = db.prepare(
      `INSERT INTO stock_reservations (reservation_id, order_id, product_id, quantity, status, reserved_at)
       VALUES (?, ?, ?, ?, 'reserved', ?)`,
    );
    this.reserveTx = (r: ReservationRequest, now: string): Row => {
      const existing = find.get(r.reservationId) as Row | undefined;
      if (existing) return existing;
      const level = this.levels.get(r.productId);
      if (level !== undefined) {
        const { units } = reservedUnits.get(r.productId) as { units: number };
        if (level - units < r.quantity)
          throw new InsufficientStockError(r.productId, r.quantity, level - units);
      }
      insert.run(r.reservationId, r.orderId, r.productId, r.quantity, now);
      return find.get(r.reservationId) as Row;
    };
  }

  async reserve(request: ReservationRequest): Promise<Reservation> {
    const planned = this.failures.get(request.productId) ?? 0;
    if (planned > 0 && !(await this.get(request.reservationId))) {
      // Counted outside the reservation's transaction, so a failed attempt still counts.
      const { attempts } = this.db
        .prepare(
          `INSERT INTO stock_reservation_attempts (reservation_id, attempts) VALUES (?, 1)
           ON CONFLICT(reservation_id) DO UPDATE SET attempts = attempts + 1 RETURNING attempts`,
        )
        .get(request.reservationId) as { attempts: number };
      if (attempts <= planned) {
        throw new StockUnavailableError(
          `stock service unavailable for ${request.productId} (simulated failure ${attempts} of ${planned})`,
        );
      }
    }
    return toReservation(
      await writeTransaction(this.db, () => this.reserveTx(request, this.clock().toISOString())),
    );
  }

  async release(reservationId: string): Promise<Reservation | undefined> {
    const update = this.db.prepare(
      "UPDATE stock_reservations SET status = 'released', released_at = ? WHERE reservation_id = ? AND status = 'reserved'",
    );
    await writeTransaction(this.db, () => update.run(this.clock().toISOString(), reservationId));
    return this.get(reservationId);
  }

  async get(reservationId: string): Promise<Reservation | undefined> {
    const row = this.db
      .prepare('SELECT * FROM stock_reservations WHERE reservation_id = ?')
      .get(reservationId) as Row | undefined;
    return row ? toReservation(row) : undefined;
  }

  async available(productId: string): Promise<number | undefined> {
    const level = this.levels.get(productId);
    if (level === undefined) return undefined;
    const { units } = this.db
      .prepare(
        "SELECT COALESCE(SUM(quantity), 0) AS units FROM stock_reservations WHERE product_id = ? AND status = 'reserved'",
      )
      .get(productId) as { units: number };
    return level - units;
  }

  /** Closes the connection once the writes asked for on it have ended. */
  close(): Promise<void> {
    return closeDatabase(this.db);
  }
}
