import { existsSync } from 'node:fs';
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

export const olistFiles = {
  orders: 'olist_orders_dataset.csv',
  items: 'olist_order_items_dataset.csv',
} as const;

/**
 * Read when present: the customer's state (`customer_state`, a Brazilian UF such as "SP") goes on OrderCreated
 * as `customerState`, for funnels by customer state. A folder without it imports as before.
 */
export const olistCustomersFile = 'olist_customers_dataset.csv';

export interface ImportSummary extends ImportTotals<AnomalyKind> {
  source: 'olist';
  /** Order rows read. */
  orders: number;
  itemRows: number;
}

/**
 * Imports the Olist sample in `folder` (olist_orders_dataset.csv, olist_order_items_dataset.csv): every
 * order becomes the commands `planOrder` derives from it, handled by `services.orders.handle`, then the
 * read model is caught up from the change feed (catchUpReadModel).
 *
 * The commands run in process through the same OrderService every writer uses (HTTP functions,
 * orchestration activities): same decider, same optimistic concurrency, same event metadata, without
 * ~100k HTTP round trips.
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
    ...emptyTotals(dir, anomalyLabels, options),
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

  // Customer states (15k rows, small), by customer id; a state that is not a region code is left out.
  const stateOfCustomer = new Map<string, string>();
  if (existsSync(join(dir, olistCustomersFile))) {
    for await (const c of readCsv<OlistCustomerRow>(join(dir, olistCustomersFile), customerColumns)) {
      const state = c.customer_state.trim();
      if (/^[A-Za-z0-9-]{1,16}$/.test(state)) stateOfCustomer.set(c.customer_id, state);
    }
  }

  async function* plans(): AsyncGenerator<PlannedOrder> {
    for await (const row of readCsv<OlistOrderRow>(join(dir, olistFiles.orders), orderColumns)) {
      summary.orders++;
      const items = itemsByOrder.get(row.order_id) ?? [];
      itemsByOrder.delete(row.order_id);
      try {
        yield planOrder(row, items, stateOfCustomer.get(row.customer_id));
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
