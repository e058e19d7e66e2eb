import { Container, SqlParameter } from '@azure/cosmos';
import { OrderSummary } from '../../domain/orderView';
import { OrderState, orderStatuses, reviveState } from '../../domain/state';
import {
  decodeToken,
  encodeToken,
  OrderListPage,
  OrderListQuery,
  OrderReadModel,
  ReadModelEntry,
  StatusCount,
} from '../../ports/readModel';
import { explain, RequestChargeListener, statusOf } from './connection';

/**
 * One order in the `orderReadModel` container (partition key `/orderId`, id = orderId). The filter and sort
 * fields are copied to the top level, where the indexing policy (src/adapters/cosmos/containers.ts) indexes them.
 */
interface ReadModelDocument {
  id: string;
  orderId: string;
  customerId: string;
  status: string;
  createdAt: string;
  version: number;
  summary: OrderSummary;
  state: OrderState;
}

const maxPutRounds = 5;

/**
 * The order read model on Cosmos DB. `put` is idempotent by version (read, then replace with `ifMatch`
 * or create; a lost race against an equal or newer version is fine). `list` is a cross-partition query,
 * newest first by `createdAt` desc then `orderId` desc (served by the composite index), with the same keyset
 * tokens as the embedded store.
 */
export class CosmosOrderReadModel implements OrderReadModel {
  constructor(
    private readonly container: Container,
    private readonly onRequestCharge: RequestChargeListener = () => {},
  ) {}

  async get(orderId: string): Promise<ReadModelEntry | undefined> {
    const doc = await this.read(orderId);
    return doc && { summary: doc.summary, state: reviveState(doc.state) };
  }

  /** @throws CosmosStoreError when Cosmos DB fails, or when five rounds of races all lost without a newer version winning */
  async put(entry: ReadModelEntry): Promise<void> {
    const s = entry.summary;
    const doc: ReadModelDocument = {
      id: s.orderId,
      orderId: s.orderId,
      customerId: s.customerId,
      status: s.status,
      createdAt: s.createdAt,
      version: s.version,
      summary: s,
      state: entry.state,
    };
    for (let round = 0; round < maxPutRounds; round++) {
      const existing = await this.read(s.orderId);
      if (existing && existing.version >= s.version) return;
      try {
        const response = existing
          ? await this.container
              .item(s.orderId, s.orderId)
              .replace(doc, { accessCondition: { type: 'IfMatch', condition: existing._etag } })
          : await this.container.items.create(doc);
        this.onRequestCharge('readModel.put', response.requestCharge);
        return;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412)
          throw explain(`put of order ${s.orderId} in the read model`, err);
        // Another projection wrote first: read again and compare versions.
      }
    }
    throw explain(
      `put of order ${s.orderId} in the read model`,
      new Error(`still contended after ${maxPutRounds} rounds`),
    );
  }

  /**
   * `put` for each entry, up to eight at once (one order per partition: no transaction spans them).
   * @throws CosmosStoreError as `put` does; entries already written stay written (idempotent by version)
   */
  async putMany(entries: ReadModelEntry[]): Promise<void> {
    const queue = [...entries];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.put(next);
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  }

  /**
   * One `VALUE COUNT(1)` query per status, in parallel: an aggregate over the indexed `status`, answered by
   * the index alone (no GROUP BY, which the test server lacks).
   * @throws CosmosStoreError when a query fails
   */
  async countByStatus(): Promise<StatusCount[]> {
    try {
      return await Promise.all(
        orderStatuses.map(async (status) => {
          const response = await this.container.items
            .query<number>({
              query: 'SELECT VALUE COUNT(1) FROM c WHERE c.status = @status',
              parameters: [{ name: '@status', value: status }],
            })
            .fetchAll();
          this.onRequestCharge('readModel.countByStatus', response.requestCharge);
          return { status, count: response.resources.reduce((sum, n) => sum + n, 0) };
        }),
      );
    } catch (err) {
      throw explain('count of the read model', err);
    }
  }

  /** @throws InvalidContinuationTokenError for a token this service did not issue */
  async list(query: OrderListQuery): Promise<OrderListPage> {
    const where: string[] = [];
    const parameters: SqlParameter[] = [];
    if (query.status) {
      where.push('c.status = @status');
      parameters.push({ name: '@status', value: query.status });
    }
    if (query.customerId) {
      where.push('c.customerId = @customerId');
      parameters.push({ name: '@customerId', value: query.customerId });
    }
    if (query.continuationToken) {
      const key = decodeToken(query.continuationToken);
      where.push('(c.createdAt < @c OR (c.createdAt = @c AND c.orderId < @o))');
      parameters.push({ name: '@c', value: key.c }, { name: '@o', value: key.o });
    }
    // The page size is a validated integer (1-1000), so it is safe inline; TOP takes a literal most portably.
    const top = Math.trunc(query.limit) + 1;
    const sql = `SELECT TOP ${top} c.summary FROM c ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY c.createdAt DESC, c.orderId DESC`;
    let rows: { summary: OrderSummary }[];
    try {
      const response = await this.container.items
        .query<{ summary: OrderSummary }>({ query: sql, parameters })
        .fetchAll();
      this.onRequestCharge('readModel.list', response.requestCharge);
      rows = response.resources;
    } catch (err) {
      throw explain('list of the read model', err);
    }
    const items = rows.slice(0, query.limit).map((r) => r.summary);
    const last = items[items.length - 1];
    return {
      items,
      continuationToken:
        rows.length > query.limit && last ? encodeToken({ c: last.createdAt, o: last.orderId }) : undefined,
    };
  }

  private async read(orderId: string): Promise<(ReadModelDocument & { _etag: string }) | undefined> {
    try {
      const response = await this.container
        .item(orderId, orderId)
        .read<ReadModelDocument & { _etag: string }>();
      this.onRequestCharge('readModel.get', response.requestCharge);
      return response.resource;
    } catch (err) {
      throw explain(`read of order ${orderId} in the read model`, err);
    }
  }
}
