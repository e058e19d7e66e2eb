import { join, resolve } from 'node:path';
import { Services } from '../composition/services';
import {
  checkSourceFolder,
  emptyTotals,
  formatTotals,
  ImportOptions,
  ImportTotals,
  noteAnomaly,
  OrderPlan,
  readCsv,
  writePlans,
} from './importRun';
import {
  matchCancellations,
  planInvoice,
  readInvoices,
  RetailAnomaly,
  retailAnomalyLabels,
  retailColumns,
  RetailInvoice,
  RetailRow,
  RetailRowError,
} from './onlineRetailPlan';

/** The file the import reads in the folder given. */
export const onlineRetailFile = 'online_retail_non_uk.csv';

export interface RetailImportSummary extends ImportTotals<RetailAnomaly> {
  source: 'online-retail';
  /** Rows (invoice lines) read. */
  rows: number;
  /** Sales invoices read (each an order). */
  invoices: number;
  /** Cancellation invoices read (`C...`). */
  cancellationInvoices: number;
  /** Cancellation invoices recorded as the cancellation of an order. */
  cancellationsMatched: number;
}

/** @throws ImportInputError when the folder or the file is missing */
export function checkOnlineRetailFolder(folder: string): void {
  checkSourceFolder('Online Retail', folder, [onlineRetailFile]);
}

/**
 * Imports the UCI Online Retail invoices in `folder` (online_retail_non_uk.csv): every sales invoice becomes
 * an order (`planInvoice`) and every cancellation invoice the cancellation of the order `matchCancellations`
 * finds, or an anomaly. The file (45k rows) is read whole first: a cancellation can only be matched knowing
 * all of the customer's invoices. Writing, idempotence, progress and catch-up are the Olist import's
 * (importRun.ts), the events marked with the actor `import:online-retail`.
 * @throws ImportInputError when the folder or the file is missing or lacks a column
 */
export async function importOnlineRetail(
  folder: string,
  services: Pick<Services, 'orders' | 'store' | 'readModel'>,
  options: ImportOptions = {},
): Promise<RetailImportSummary> {
  const dir = resolve(folder);
  checkOnlineRetailFolder(dir);
  const started = performance.now();
  const summary: RetailImportSummary = {
    source: 'online-retail',
    rows: 0,
    invoices: 0,
    cancellationInvoices: 0,
    cancellationsMatched: 0,
    ...emptyTotals(dir, retailAnomalyLabels),
  };
  const rows: RetailRow[] = [];
  for await (const row of readCsv<RetailRow>(join(dir, onlineRetailFile), retailColumns)) rows.push(row);
  summary.rows = rows.length;
  const { invoices, errors, severalTimes } = readInvoices(rows);
  for (const message of errors) noteAnomaly(summary, 'invalidRow', message);
  summary.anomalies.severalTimes = severalTimes;

  const cancelledBy = new Map<string, RetailInvoice>();
  for (const match of matchCancellations(invoices)) {
    summary.cancellationInvoices++;
    if (!match.invoice) {
      noteAnomaly(summary, 'cancellationUnmatched');
      continue;
    }
    summary.cancellationsMatched++;
    if (match.partial) noteAnomaly(summary, 'partialCancellation');
    cancelledBy.set(match.invoice.invoiceNo, match.cancellation);
  }

  function* plans(): Generator<OrderPlan<RetailAnomaly>> {
    for (const invoice of invoices) {
      if (invoice.cancellation) continue;
      summary.invoices++;
      try {
        yield planInvoice(invoice, cancelledBy.get(invoice.invoiceNo));
      } catch (err) {
        if (!(err instanceof RetailRowError)) throw err;
        noteAnomaly(summary, 'invalidRow', err.message);
      }
    }
  }
  await writePlans('online-retail', toAsync(plans()), services, summary, options, started);
  return summary;
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** The summary as a readable block for the console. */
export function formatRetailSummary(s: RetailImportSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return formatTotals(
    'Online Retail import',
    `invoices read          ${n(s.invoices)} orders (${n(s.rows)} rows), ${n(s.cancellationInvoices)} cancellations ` +
      `(${n(s.cancellationsMatched)} matched to an order)`,
    s,
    retailAnomalyLabels,
  );
}
