import { OrderSummary } from '../../domain/orderView';
import { orderStatuses, reviveState } from '../../domain/state';
import {
  decodeToken,
  encodeToken,
  OrderListPage,
  OrderListQuery,
  OrderReadModel,
  ReadModelEntry,
  StatusCount,
} from '../../ports/readModel';
import { SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS order_read_model (
  order_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  summary TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_read_model_created ON order_read_model (created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS order_read_model_status ON order_read_model (status, created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS order_read_model_customer ON order_read_model (customer_id, created_at DESC, order_id DESC);
`;

/** The order read model in the embedded database, one row per order. */
export class SqliteOrderReadModel implements OrderReadModel {
  // Prepared once: preparing on every call cost as much as the write (CPU profile of the read-model catch-up).
  private readonly getRow;
  private readonly putRow;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    this.getRow = db.prepare('SELECT summary, state FROM order_read_model WHERE order_id = ?');
    this.putRow = db.prepare(
      `INSERT INTO order_read_model (order_id, customer_id, status, created_at, version, summary, state)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(order_id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status,
         created_at = excluded.created_at, version = excluded.version, summary = excluded.summary,
         state = excluded.state
       WHERE excluded.version > order_read_model.version`,
    );
  }

  async get(orderId: string): Promise<ReadModelEntry | undefined> {
    const row = this.getRow.get(orderId) as { summary: string; state: string } | undefined;
    return row && { summary: JSON.parse(row.summary), state: reviveState(JSON.parse(row.state)) };
  }

  async put(entry: ReadModelEntry): Promise<void> {
    const row = rowOf(entry);
    await writeTransaction(this.db, () => this.putRow.run(...row));
  }

  /**
   * One IMMEDIATE transaction for all entries (`writeTransaction`: the lock waited for without blocking the
   * thread), their JSON made before it so that the lock is held briefly.
   */
  async putMany(entries: ReadModelEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map(rowOf);
    await writeTransaction(this.db, () => {
      for (const row of rows) this.putRow.run(...row);
    });
  }

  async countByStatus(): Promise<StatusCount[]> {
    const rows = this.db
      .prepare('SELECT status, COUNT(*) AS count FROM order_read_model GROUP BY status')
      .all() as { status: string; count: number }[];
    const counts = new Map(rows.map((r) => [r.status, Number(r.count)]));
    return orderStatuses.map((status) => ({ status, count: counts.get(status) ?? 0 }));
  }

  async list(query: OrderListQuery): Promise<OrderListPage> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.status) {
      where.push('status = ?');
      args.push(query.status);
    }
    if (query.customerId) {
      where.push('customer_id = ?');
      args.push(query.customerId);
    }
    if (query.continuationToken) {
      const key = decodeToken(query.continuationToken);
      where.push('(created_at < ? OR (created_at = ? AND order_id < ?))');
      args.push(key.c, key.c, key.o);
    }
    const sql = `SELECT summary FROM order_read_model ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY created_at DESC, order_id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, query.limit + 1) as { summary: string }[];
    const items = rows.slice(0, query.limit).map((r) => JSON.parse(r.summary) as OrderSummary);
    const last = items[items.length - 1];
    return {
      items,
      continuationToken:
        rows.length > query.limit && last ? encodeToken({ c: last.createdAt, o: last.orderId }) : undefined,
    };
  }
}

/** The statement's parameters for one entry, in the column order of the insert. */
function rowOf(entry: ReadModelEntry): unknown[] {
  const s = entry.summary;
  return [
    s.orderId,
    s.customerId,
    s.status,
    s.createdAt,
    s.version,
    JSON.stringify(s),
    JSON.stringify(entry.state),
  ];
}
