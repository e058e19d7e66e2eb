import {
  CustomerNotification,
  EventRef,
  GuardOutcome,
  NotificationStore,
  StockDemand,
  stockDemandOf,
  StockDemandStore,
} from '../../ports/consumers';
import { SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS consumer_inbox (consumer TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (consumer, event_id));
CREATE TABLE IF NOT EXISTS consumer_order_versions (
  consumer TEXT NOT NULL, order_id TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (consumer, order_id)
);
CREATE TABLE IF NOT EXISTS stock_demand (product_id TEXT PRIMARY KEY, demanded INTEGER NOT NULL DEFAULT 0, available INTEGER);
CREATE TABLE IF NOT EXISTS customer_notifications (
  event_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customer_notifications_order ON customer_notifications (order_id);
`;

/**
 * Consumer state in the embedded database: the inbox (processed event ids), the highest order version
 * seen per consumer, stock demand and notifications. Guard and write share one IMMEDIATE transaction.
 */
export class SqliteConsumerStores implements StockDemandStore, NotificationStore {
  private readonly guarded;
  // Prepared once: preparing costs more than running these one-row statements.
  private readonly addRow;
  private readonly demandRow;
  private readonly notificationRow;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    const seen = db.prepare('SELECT 1 FROM consumer_inbox WHERE consumer = ? AND event_id = ?');
    const markSeen = db.prepare('INSERT INTO consumer_inbox (consumer, event_id) VALUES (?, ?)');
    const lastVersion = db.prepare(
      'SELECT version FROM consumer_order_versions WHERE consumer = ? AND order_id = ?',
    );
    const setVersion = db.prepare(
      `INSERT INTO consumer_order_versions (consumer, order_id, version) VALUES (?, ?, ?)
       ON CONFLICT(consumer, order_id) DO UPDATE SET version = max(version, excluded.version)`,
    );
    this.guarded = (ref: EventRef, write: () => void): Promise<GuardOutcome> =>
      writeTransaction(db, () => {
        if (seen.get(ref.consumer, ref.eventId)) return 'duplicate';
        const last = lastVersion.get(ref.consumer, ref.orderId) as { version: number } | undefined;
        markSeen.run(ref.consumer, ref.eventId);
        if (last && ref.orderVersion < last.version) return 'stale';
        setVersion.run(ref.consumer, ref.orderId, ref.orderVersion);
        write();
        return 'applied';
      });
    this.addRow = db.prepare(
      `INSERT INTO stock_demand (product_id, demanded) VALUES (?, ?)
       ON CONFLICT(product_id) DO UPDATE SET demanded = demanded + excluded.demanded`,
    );
    this.demandRow = db.prepare('SELECT demanded, available FROM stock_demand WHERE product_id = ?');
    this.notificationRow = db.prepare(
      'INSERT INTO customer_notifications (event_id, order_id, body) VALUES (?, ?, ?)',
    );
  }

  async addDemand(ref: EventRef, productId: string, quantity: number): Promise<GuardOutcome> {
    return this.guarded(ref, () => this.addRow.run(productId, quantity));
  }

  async setAvailable(levels: ReadonlyMap<string, number>): Promise<void> {
    const set = this.db.prepare(
      `INSERT INTO stock_demand (product_id, demanded, available) VALUES (?, 0, ?)
       ON CONFLICT(product_id) DO UPDATE SET available = excluded.available`,
    );
    await writeTransaction(this.db, () => {
      for (const [productId, available] of levels) set.run(productId, available);
    });
  }

  async get(productId: string): Promise<StockDemand | undefined> {
    const row = this.demandRow.get(productId) as { demanded: number; available: number | null } | undefined;
    if (!row) return undefined;
    return stockDemandOf(productId, row.demanded, row.available);
  }

  async record(ref: EventRef, notification: CustomerNotification): Promise<GuardOutcome> {
    return this.guarded(ref, () =>
      this.notificationRow.run(notification.eventId, notification.orderId, JSON.stringify(notification)),
    );
  }

  async listForOrder(orderId: string): Promise<CustomerNotification[]> {
    const rows = this.db
      .prepare('SELECT body FROM customer_notifications WHERE order_id = ? ORDER BY rowid')
      .all(orderId) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as CustomerNotification);
  }
}
