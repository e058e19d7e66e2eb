import { createHash } from 'node:crypto';
import { OrderCommand } from '../domain/decider';
import { Id } from '../domain/ids';
import { canonicalAmount } from '../domain/money';
import { OrderLine } from '../domain/state';
import { localToUtcIso, LocalTimeFormatError } from './localTime';
import { OrderPlan } from './importRun';

/** One row of the UCI Online Retail file: one stock code on one invoice. */
export interface RetailRow {
  InvoiceNo: string;
  StockCode: string;
  Quantity: string;
  InvoiceDate: string;
  UnitPrice: string;
  CustomerID: string;
}

export const retailColumns: (keyof RetailRow)[] = [
  'InvoiceNo',
  'StockCode',
  'Quantity',
  'InvoiceDate',
  'UnitPrice',
  'CustomerID',
];

/** What the import reports, each kind with a count; the labels are the summary's wording. */
export const retailAnomalyLabels = {
  cancellationUnmatched: 'cancellation invoices that match no earlier invoice of the customer (not imported)',
  partialCancellation: 'matched cancellations of part of an invoice (the whole order is recorded cancelled)',
  productAtSeveralPrices: 'a stock code at a second unit price on one invoice (own line "<code>:<price>")',
  productIdMapped: 'lines whose stock code is not a valid id (mapped to one)',
  zeroPrice: 'lines at unit price 0 (recorded at 0.00)',
  severalTimes: 'invoices whose rows carry different times (the earliest is used)',
  invalidRow: 'invoices that could not be read (not imported)',
  streamDiffers: 'orders already in the store with other events (left as they are)',
  refusedCommands: 'commands the decider refused',
} as const;

export type RetailAnomaly = keyof typeof retailAnomalyLabels;

/** The retailer is in the UK: invoice times are read as UK wall-clock time (GMT, BST in summer). */
export const retailTimeZone = 'Europe/London';

/** Prefix of the order ids: the order of invoice 536370 is `online-retail-536370`. */
export const retailOrderPrefix = 'online-retail-';

export const retailCurrency = 'GBP';

/** The invoice cannot be turned into commands; the invoice is not imported. */
export class RetailRowError extends Error {}

const DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})$/;

/**
 * `InvoiceDate` ("12/1/2010 8:45": month/day/year, 24-hour clock, no seconds), UK local time, to ISO
 * 8601 UTC: "2010-12-01T08:45:00.000Z" in winter, an hour earlier during British Summer Time.
 * @throws LocalTimeFormatError when the text is not such a date or names an impossible one
 */
export function retailTimeToUtc(text: string): string {
  const m = DATE.exec(text.trim());
  if (!m) throw new LocalTimeFormatError(`"${text}" is not a date such as "12/1/2010 8:45"`);
  const [mo, d, y, h, mi] = m.slice(1);
  const two = (s: string) => s.padStart(2, '0');
  return localToUtcIso(`${y}-${two(mo)}-${two(d)} ${two(h)}:${mi}:00`, retailTimeZone);
}

/**
 * The product id of a stock code: the code itself when it is a valid id, otherwise (deterministically) its
 * characters outside the id rule replaced by "_", cut to 100 characters, plus "-x" and 8 hex digits of its
 * SHA-256, so that two codes never share an id.
 */
export function retailProductId(stockCode: string): { productId: string; mapped: boolean } {
  if (Id.safeParse(stockCode).success) return { productId: stockCode, mapped: false };
  const hash = createHash('sha256').update(stockCode).digest('hex').slice(0, 8);
  const clean = stockCode.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 100);
  return { productId: `${clean || 'stock'}-x${hash}`, mapped: true };
}

/** The rows of one invoice, read. */
export interface RetailInvoice {
  invoiceNo: string;
  customerId: string;
  cancellation: boolean;
  /** The earliest row time, UTC. */
  occurredAt: string;
  /** Units by stock code (absolute: a cancellation's quantities are negative in the source). */
  units: Map<string, number>;
  rows: RetailRow[];
}

/**
 * Groups rows by InvoiceNo (in the order invoices first appear) and reads each.
 * Invoices that cannot be read come back as errors.
 */
export function readInvoices(rows: Iterable<RetailRow>): {
  invoices: RetailInvoice[];
  errors: string[];
  severalTimes: number;
} {
  const byNo = new Map<string, RetailRow[]>();
  for (const row of rows) {
    const list = byNo.get(row.InvoiceNo);
    if (list) list.push(row);
    else byNo.set(row.InvoiceNo, [row]);
  }
  const invoices: RetailInvoice[] = [];
  const errors: string[] = [];
  let severalTimes = 0;
  for (const [invoiceNo, list] of byNo) {
    try {
      const invoice = readInvoice(invoiceNo, list);
      if (new Set(list.map((r) => r.InvoiceDate)).size > 1) severalTimes++;
      invoices.push(invoice);
    } catch (err) {
      if (!(err instanceof RetailRowError)) throw err;
      errors.push(err.message);
    }
  }
  return { invoices, errors, severalTimes };
}

function readInvoice(invoiceNo: string, rows: RetailRow[]): RetailInvoice {
  const cancellation = invoiceNo.startsWith('C');
  const customers = new Set(rows.map((r) => r.CustomerID.trim()));
  if (customers.size !== 1) throw new RetailRowError(`invoice ${invoiceNo}: ${customers.size} customers`);
  const customerId = [...customers][0];
  if (!Id.safeParse(customerId).success)
    throw new RetailRowError(`invoice ${invoiceNo}: CustomerID ${JSON.stringify(customerId)} is not an id`);
  if (!Id.safeParse(retailOrderPrefix + invoiceNo).success)
    throw new RetailRowError(`invoice ${JSON.stringify(invoiceNo)}: InvoiceNo is not an id`);
  const units = new Map<string, number>();
  let occurredAt: string | undefined;
  for (const row of rows) {
    let at: string;
    try {
      at = retailTimeToUtc(row.InvoiceDate);
    } catch (err) {
      throw new RetailRowError(`invoice ${invoiceNo}: InvoiceDate: ${(err as Error).message}`);
    }
    if (occurredAt === undefined || at < occurredAt) occurredAt = at;
    const quantity = Number(row.Quantity);
    if (!Number.isInteger(quantity) || quantity === 0 || quantity < 0 !== cancellation) {
      throw new RetailRowError(
        `invoice ${invoiceNo}: quantity ${row.Quantity} (${cancellation ? 'a cancellation has negative' : 'an invoice has positive'} quantities)`,
      );
    }
    units.set(row.StockCode, (units.get(row.StockCode) ?? 0) + Math.abs(quantity));
  }
  return { invoiceNo, customerId, cancellation, occurredAt: occurredAt!, units, rows };
}

/** The order key of an invoice: time, then invoice number (numbers grow with time in the source). */
const invoiceKey = (i: RetailInvoice): string =>
  `${i.occurredAt} ${i.invoiceNo.replace(/^C/, '').padStart(12, '0')}`;

export interface CancellationMatch {
  cancellation: RetailInvoice;
  /** The invoice it cancels, or undefined when none matches. */
  invoice?: RetailInvoice;
  /** The cancellation covers fewer units than the invoice holds (some stock code less or absent). */
  partial: boolean;
}

/**
 * The matching rule. Cancellation invoices are taken in time order (InvoiceDate, then invoice number);
 * a cancellation C of customer X matches the latest invoice I (same order) such that
 * - I is not a cancellation, belongs to X, and is not after C (I's time ≤ C's time),
 * - for every stock code of C, I holds at least as many units of it as C cancels (units summed over rows),
 * - no cancellation taken before C matched I already.
 * Without such an invoice, C is unmatched (an anomaly). A match is partial when I holds units C does not
 * cancel; the order is cancelled as a whole either way (orders have no partial cancellation).
 */
export function matchCancellations(invoices: RetailInvoice[]): CancellationMatch[] {
  const salesOf = new Map<string, RetailInvoice[]>();
  for (const i of invoices) {
    if (i.cancellation) continue;
    const list = salesOf.get(i.customerId);
    if (list) list.push(i);
    else salesOf.set(i.customerId, [i]);
  }
  for (const list of salesOf.values()) list.sort((a, b) => (invoiceKey(a) < invoiceKey(b) ? 1 : -1)); // latest first
  const cancelled = new Set<string>();
  const cancellations = invoices
    .filter((i) => i.cancellation)
    .sort((a, b) => (invoiceKey(a) < invoiceKey(b) ? -1 : 1));
  return cancellations.map((c) => {
    const invoice = (salesOf.get(c.customerId) ?? []).find(
      (i) =>
        i.occurredAt <= c.occurredAt &&
        !cancelled.has(i.invoiceNo) &&
        [...c.units].every(([code, n]) => (i.units.get(code) ?? 0) >= n),
    );
    if (!invoice) return { cancellation: c, partial: false };
    cancelled.add(invoice.invoiceNo);
    const partial = [...invoice.units].some(([code, n]) => (c.units.get(code) ?? 0) < n);
    return { cancellation: c, invoice, partial };
  });
}

/**
 * One order per sales invoice, with the cancellation that matched it:
 * CreateOrder (customer = CustomerID), one AddProduct per stock code and unit price (quantities summed,
 * unit price in GBP), SubmitOrder and AcceptOrder at the invoice time (an invoice is a sale the retailer
 * accepted), and CancelOrder at the cancellation invoice's time when one matched. All `history: true`.
 * @throws RetailRowError when a unit price cannot be read
 */
export function planInvoice(invoice: RetailInvoice, cancelledBy?: RetailInvoice): OrderPlan<RetailAnomaly> {
  const orderId = retailOrderPrefix + invoice.invoiceNo;
  const anomalies: RetailAnomaly[] = [];
  const at = invoice.occurredAt;
  const commands: OrderCommand[] = [
    { type: 'CreateOrder', customerId: invoice.customerId, occurredAt: at, history: true },
  ];
  const lines = new Map<string, OrderLine>();
  const firstPrice = new Map<string, string>();
  for (const row of invoice.rows) {
    let unitPrice: string;
    try {
      unitPrice = canonicalAmount(row.UnitPrice.trim(), retailCurrency);
    } catch (err) {
      throw new RetailRowError(
        `invoice ${invoice.invoiceNo}: ${row.StockCode}: UnitPrice: ${(err as Error).message}`,
      );
    }
    const key = `${row.StockCode}\u0000${unitPrice}`;
    const line = lines.get(key);
    if (line) {
      line.quantity += Math.abs(Number(row.Quantity));
      continue;
    }
    const { productId: base, mapped } = retailProductId(row.StockCode);
    if (mapped) anomalies.push('productIdMapped');
    if (unitPrice === '0.00') anomalies.push('zeroPrice');
    let productId = base;
    const first = firstPrice.get(row.StockCode);
    if (first === undefined) firstPrice.set(row.StockCode, unitPrice);
    else {
      productId = `${base}:${unitPrice}`;
      anomalies.push('productAtSeveralPrices');
    }
    lines.set(key, {
      productId,
      quantity: Math.abs(Number(row.Quantity)),
      unitPrice,
      currency: retailCurrency,
    });
  }
  for (const line of lines.values())
    commands.push({ type: 'AddProduct', line, occurredAt: at, history: true });
  commands.push({ type: 'SubmitOrder', occurredAt: at, history: true });
  commands.push({ type: 'AcceptOrder', occurredAt: at, history: true });
  if (cancelledBy) {
    commands.push({
      type: 'CancelOrder',
      reason: `cancellation invoice ${cancelledBy.invoiceNo}`,
      occurredAt: cancelledBy.occurredAt,
      history: true,
    });
  }
  return { orderId, commands, anomalies };
}
