import { join, resolve } from 'node:path';
import { Services } from '../composition/services';
import {
  checkSourceFolder,
  emptyTotals,
  formatTotals,
  ImportOptions,
  ImportTotals,
  noteAnomaly,
  readCsv,
  writePlans,
} from './importRun';
import {
  AnomalyKind,
  anomalyLabels,
  itemColumns,
  customerColumns,
  OlistCustomer,
  OlistCustomerRow,
  OlistItemRow,
  OlistOrderRow,
  OlistRowError,
  orderColumns,
  PlannedOrder,
  planOrder,
} from './olistPlan';

export { ImportInputError, recordedPrefix } from './importRun';
export type { ImportOptions, ImportProgress } from './importRun';

/**
 * The files the import reads, all required. The customers file gives each order's customer: the person
 * (`customer_unique_id`) and their state (`customer_state`); without it every order would be a customer of its
 * own, and a later run with it would find every stored order differing from the source.
 */
export const olistFiles = {
  orders: 'olist_orders_dataset.csv',
  items: 'olist_order_items_dataset.csv',
  customers: 'olist_customers_dataset.csv',
} as const;

export interface ImportSummary extends ImportTotals<AnomalyKind> {
  source: 'olist';
  /** Order rows read. */
  orders: number;
  itemRows: number;
}

/**
 * Imports the Olist sample in `folder` (olist_orders_dataset.csv, olist_order_items_dataset.csv,
 * olist_customers_dataset.csv): every order becomes the commands `planOrder` derives from it, written as
 * history in group commits (`writePlans`), then the read model is caught up from the change feed
 * (catchUpReadModel).
 *
 * The order's customerId is its customer's `customer_unique_id` (the person: Olist gives every order a
 * `customer_id` of its own and keeps the person in the customers file), so funnels counted by customer and
 * the training sets see repeat customers. An order whose `customer_id` the customers file lacks, or whose row
 * there has an empty `customer_unique_id`, keeps its `customer_id` as the customerId (the order is still
 * imported; it cannot be linked to the customer's other orders) and is counted as `unknownCustomer`.
 * A store filled by an import from before customerId was the person (it was `customer_id`) holds other
 * OrderCreated data: a re-run reports each such order as `streamDiffers` and leaves it as it is (events are
 * never rewritten); import into an empty DATA_DIR to get the customers as persons.
 *
 * The commands run in process with the same decider, event checks, optimistic concurrency and event metadata
 * as `OrderService.handle` (every other writer's path), one commit per command, without ~100k HTTP round
 * trips; the commits of about 1,000 commands share one transaction (docs/adr/0017-group-commit.md).
 *
 * Re-running is safe and appends nothing: for an order whose stream exists, the plan is replayed through
 * the decider in memory and compared with the stored events; only the commands after the stored prefix
 * are sent (none for a complete order). This matters because AddProduct is additive and lifecycle commands
 * are idempotent only in their target state (accepting a delivered order is refused, not ignored). A
 * stream that disagrees with the source is left as it is and reported.
 * @throws ImportInputError when the folder or a file is missing or lacks a column
 */
export async function importOlist(
  folder: string,
  services: Pick<Services, 'orders' | 'store' | 'readModel'>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const dir = resolve(folder);
  checkOlistFolder(dir);
  const started = performance.now();
  const summary: ImportSummary = {
    source: 'olist',
    orders: 0,
    itemRows: 0,
    ...emptyTotals(dir, anomalyLabels),
  };
  const note = (kind: AnomalyKind, message?: string) => noteAnomaly(summary, kind, message);

  // Items first (17k rows, small), grouped by order; then the orders file is streamed.
  const itemsByOrder = new Map<string, OlistItemRow[]>();
  for await (const item of readCsv<OlistItemRow>(join(dir, olistFiles.items), itemColumns)) {
    summary.itemRows++;
    const list = itemsByOrder.get(item.order_id);
    if (list) list.push(item);
    else itemsByOrder.set(item.order_id, [item]);
  }

  // Customers (15k rows, small), by the customer_id the orders file uses; a state that is not a region code is
  // left out, an empty customer_unique_id is as if the row were missing (planOrder keeps customer_id).
  const customerOf = new Map<string, OlistCustomer>();
  for await (const c of readCsv<OlistCustomerRow>(join(dir, olistFiles.customers), customerColumns)) {
    const state = c.customer_state.trim();
    customerOf.set(c.customer_id, {
      ...(c.customer_unique_id ? { uniqueId: c.customer_unique_id } : {}),
      ...(/^[A-Za-z0-9-]{1,16}$/.test(state) ? { state } : {}),
    });
  }

  async function* plans(): AsyncGenerator<PlannedOrder> {
    for await (const row of readCsv<OlistOrderRow>(join(dir, olistFiles.orders), orderColumns)) {
      summary.orders++;
      const items = itemsByOrder.get(row.order_id) ?? [];
      itemsByOrder.delete(row.order_id);
      try {
        yield planOrder(row, items, customerOf.get(row.customer_id));
      } catch (err) {
        if (!(err instanceof OlistRowError)) throw err;
        note('invalidRow', err.message);
      }
    }
  }

  await writePlans('olist', plans(), services, summary, options, started);
  for (const [orderId, rows] of itemsByOrder) {
    note('itemsWithoutOrder', `${rows.length} item row(s) of order ${orderId}, which the orders file lacks`);
    summary.anomalies.itemsWithoutOrder += rows.length - 1;
  }
  return summary;
}

/**
 * Checks that `folder` holds the Olist files the import reads.
 * @throws ImportInputError naming what is missing
 */
export function checkOlistFolder(folder: string): void {
  checkSourceFolder('Olist', folder, Object.values(olistFiles));
}

/** The summary as a readable block for the console. */
export function formatSummary(s: ImportSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return formatTotals(
    'Olist import',
    `orders read            ${n(s.orders)} (${n(s.itemRows)} item rows)`,
    s,
    anomalyLabels,
  );
}
