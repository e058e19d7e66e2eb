import { parse } from 'csv-parse/sync';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { decide, evolve, initialState } from '../../src/domain/decider';
import { OrderSummary } from '../../src/domain/orderView';
import { parseArgs } from '../../src/import/cli';
import { importOnlineRetail, RetailImportSummary } from '../../src/import/onlineRetail';
import {
  matchCancellations,
  planInvoice,
  readInvoices,
  RetailRow,
  retailProductId,
  retailTimeToUtc,
} from '../../src/import/onlineRetailPlan';

/**
 * The UCI Online Retail import against the real file in ../shared/data/online_retail (read at run time,
 * never copied). Expectations are computed here from the CSV with csv-parse, independently of the
 * importer's code, and follow the facts in ../shared/data/README.md.
 */
const retailDir = path.resolve(__dirname, '../../../shared/data/online_retail');
const retailCsv = path.join(retailDir, 'online_retail_non_uk.csv');
const haveData = existsSync(retailCsv);
if (!haveData)
  console.warn(`skipping the Online Retail import tests against the real file: ${retailDir} is absent`);

interface Row {
  InvoiceNo: string;
  StockCode: string;
  Quantity: string;
  InvoiceDate: string;
  UnitPrice: string;
  CustomerID: string;
}

const row = (
  InvoiceNo: string,
  StockCode: string,
  Quantity: number,
  InvoiceDate: string,
  UnitPrice = '1.25',
) => ({
  InvoiceNo,
  StockCode,
  Quantity: String(Quantity),
  InvoiceDate,
  UnitPrice,
  CustomerID: InvoiceNo.includes('x') ? '99999' : '12345',
});

describe('Online Retail dates', () => {
  it('reads M/D/YYYY H:MM as UK time: GMT in winter, BST (UTC+1) in summer', () => {
    expect(retailTimeToUtc('12/1/2010 8:45')).toBe('2010-12-01T08:45:00.000Z');
    expect(retailTimeToUtc('6/15/2011 13:05')).toBe('2011-06-15T12:05:00.000Z');
    expect(retailTimeToUtc('10/30/2011 0:59')).toBe('2011-10-29T23:59:00.000Z');
    expect(retailTimeToUtc('10/31/2011 9:00')).toBe('2011-10-31T09:00:00.000Z');
    expect(retailTimeToUtc('3/27/2011 1:30')).toBe('2011-03-27T01:30:00.000Z'); // in the spring gap: moved on
    expect(retailTimeToUtc('10/30/2011 1:30')).toBe('2011-10-30T00:30:00.000Z'); // repeated: the earlier
    expect(retailTimeToUtc('10/30/2011 2:00')).toBe('2011-10-30T02:00:00.000Z');
  });

  it('refuses other shapes and impossible dates', () => {
    for (const bad of [
      '2010-12-01 08:45',
      '12/1/2010',
      '13/1/2010 8:45',
      '2/30/2011 8:00',
      '12/1/2010 8:45:00',
    ]) {
      expect(() => retailTimeToUtc(bad), bad).toThrow();
    }
  });
});

describe('Online Retail cancellation matching', () => {
  const match = (rows: RetailRow[]) =>
    matchCancellations(readInvoices(rows).invoices).map((m) => [
      m.cancellation.invoiceNo,
      m.invoice?.invoiceNo,
      m.partial,
    ]);

  it('matches the latest earlier invoice of the customer holding the cancelled units', () => {
    expect(
      match([
        row('100', 'A', 5, '1/3/2011 10:00'),
        row('101', 'A', 5, '1/4/2011 10:00'),
        row('101', 'B', 1, '1/4/2011 10:00'),
        row('102', 'A', 1, '1/5/2011 10:00'), // too few units
        row('C103', 'A', -5, '1/6/2011 10:00'),
        row('104', 'A', 9, '1/7/2011 10:00'), // later than the cancellation
      ]),
    ).toEqual([['C103', '101', true]]);
  });

  it('sums the rows of a stock code and needs every cancelled code', () => {
    expect(
      match([
        row('100', 'A', 2, '1/3/2011 10:00'),
        row('100', 'A', 3, '1/3/2011 10:00'),
        row('101', 'A', 9, '1/4/2011 10:00'),
        row('C102', 'A', -5, '1/6/2011 10:00'),
        row('C102', 'B', -1, '1/6/2011 10:00'),
        row('C103', 'A', -5, '1/6/2011 11:00'),
      ]),
    ).toEqual([
      ['C102', undefined, false],
      ['C103', '101', true],
    ]);
  });

  it('cancels an invoice once, takes cancellations in time order, never another customer, same minute allowed', () => {
    expect(
      match([
        row('100', 'A', 5, '1/3/2011 10:00'),
        row('101', 'A', 5, '1/4/2011 10:00'),
        row('C104', 'A', -5, '1/6/2011 12:00'),
        row('C103', 'A', -5, '1/6/2011 10:00'),
        row('C105', 'A', -5, '1/6/2011 13:00'),
        row('106x', 'A', 5, '1/7/2011 10:00'),
        row('C107x', 'A', -5, '1/7/2011 10:00'),
      ]),
    ).toEqual([
      ['C103', '101', false],
      ['C104', '100', false],
      ['C105', undefined, false],
      ['C107x', '106x', false],
    ]);
  });

  it('plans an order per invoice: a line per stock code and price, accepted, cancelled when matched', () => {
    const { invoices } = readInvoices([
      row('100', 'A', 2, '1/3/2011 10:00', '1.5'),
      row('100', 'A', 3, '1/3/2011 10:00', '1.50'),
      row('100', 'A', 1, '1/3/2011 10:00', '2'),
      row('100', 'B', 4, '1/3/2011 10:00', '0'),
      row('C101', 'A', -1, '7/3/2011 10:00'),
    ]);
    const plan = planInvoice(invoices[0], invoices[1]);
    expect(plan.orderId).toBe('online-retail-100');
    expect(plan.anomalies.sort()).toEqual(['productAtSeveralPrices', 'zeroPrice']);
    let state = initialState();
    for (const command of plan.commands) for (const e of decide(command, state)) state = evolve(state, e);
    expect(state.status).toBe('cancelled');
    expect(state.cancelledAt).toBe('2011-07-03T09:00:00.000Z');
    expect(state.lines).toEqual([
      { productId: 'A', quantity: 5, unitPrice: '1.50', currency: 'GBP' },
      { productId: 'A:2.00', quantity: 1, unitPrice: '2.00', currency: 'GBP' },
      { productId: 'B', quantity: 4, unitPrice: '0.00', currency: 'GBP' },
    ]);
  });

  it('maps stock codes outside the id rule to stable valid ids', () => {
    expect(retailProductId('85123A')).toEqual({ productId: '85123A', mapped: false });
    const mapped = retailProductId('BANK CHARGES');
    expect(mapped.mapped).toBe(true);
    expect(mapped.productId).toMatch(/^BANK_CHARGES-x[0-9a-f]{8}$/);
    expect(retailProductId('BANK CHARGES')).toEqual(mapped);
    expect(retailProductId('BANK/CHARGES').productId).not.toBe(mapped.productId);
  });

  it('is a source of the import command', () => {
    expect(parseArgs(['online-retail', 'x'])).toEqual({ source: 'online-retail', folder: 'x' });
  });
});

/** Price text to integer pence, without floats. */
const pence = (price: string): number => {
  const [whole, fraction = ''] = price.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2));
};

/** UK wall-clock "M/D/YYYY H:MM" to UTC ms, from the published BST dates of 2010-2011 (not the tz database). */
function ukToUtcMs(text: string): number {
  const [date, time] = text.split(' ');
  const [mo, d, y] = date.split('/').map(Number);
  const [h, mi] = time.split(':').map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  // BST: from 2011-03-27 01:00 GMT (local 01:00 → 02:00: a reading in the gap is GMT, i.e. moved on) to
  // 2011-10-30 01:00 GMT (local 02:00 → 01:00: a reading in the repeated hour is BST, the earlier instant).
  const bst = wall >= Date.UTC(2011, 2, 27, 2) && wall < Date.UTC(2011, 9, 30, 2);
  return wall - (bst ? 3_600_000 : 0);
}

describe.skipIf(!haveData)('Online Retail import (real file)', () => {
  let dataDir: string;
  let services: Services;
  let first: RetailImportSummary;
  const invoices = new Map<string, Row[]>();
  let readModel: OrderSummary[];
  /** Sales invoice → the cancellation invoice that cancels it, computed here. */
  const cancelledBy = new Map<string, string>();
  let unmatched = 0;
  let partial = 0;

  beforeAll(async () => {
    const rows = parse(readFileSync(retailCsv), { columns: true, bom: true }) as Row[];
    for (const r of rows) invoices.set(r.InvoiceNo, [...(invoices.get(r.InvoiceNo) ?? []), r]);

    // The matching rule, computed independently: cancellations by (time, number); for each, the latest
    // (time, number) not-yet-cancelled invoice of the customer at or before it holding the units.
    const time = (no: string) => Math.min(...invoices.get(no)!.map((r) => ukToUtcMs(r.InvoiceDate)));
    const num = (no: string) => Number(no.replace('C', ''));
    const byKey = (a: string, b: string) => time(a) - time(b) || num(a) - num(b);
    const units = (no: string) => {
      const m: Record<string, number> = {};
      for (const r of invoices.get(no)!)
        m[r.StockCode] = (m[r.StockCode] ?? 0) + Math.abs(Number(r.Quantity));
      return m;
    };
    const sales = [...invoices.keys()].filter((no) => !no.startsWith('C')).sort(byKey);
    const cancels = [...invoices.keys()].filter((no) => no.startsWith('C')).sort(byKey);
    const customer = (no: string) => invoices.get(no)![0].CustomerID;
    for (const c of cancels) {
      const want = units(c);
      const candidates = sales.filter(
        (s) =>
          customer(s) === customer(c) &&
          time(s) <= time(c) &&
          !cancelledBy.has(s) &&
          Object.entries(want).every(([code, n]) => (units(s)[code] ?? 0) >= n),
      );
      const hit = candidates.at(-1);
      if (!hit) {
        unmatched++;
        continue;
      }
      cancelledBy.set(hit, c);
      if (Object.entries(units(hit)).some(([code, n]) => (want[code] ?? 0) < n)) partial++;
    }

    dataDir = mkdtempSync(path.join(tmpdir(), 'retail-import-'));
    services = createServices(readSettings({ DATA_DIR: dataDir, EVENT_STORE: 'sqlite', PORT: '0' }));
    first = await importOnlineRetail(retailDir, services);
    readModel = [];
    let continuationToken: string | undefined;
    do {
      const page = await services.readModel.list({ limit: 1000, continuationToken });
      readModel.push(...page.items.filter((o) => o.orderId.startsWith('online-retail-')));
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }, 1_800_000);

  afterAll(async () => {
    await services?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const salesNos = () => [...invoices.keys()].filter((no) => !no.startsWith('C'));
  /** Lines as the CSV implies: one per stock code and unit price, quantities summed. */
  const linesOf = (no: string) => {
    const m = new Map<string, { code: string; quantity: number; pence: number }>();
    for (const r of invoices.get(no)!) {
      const key = `${r.StockCode} ${pence(r.UnitPrice)}`;
      const line = m.get(key) ?? { code: r.StockCode, quantity: 0, pence: pence(r.UnitPrice) };
      line.quantity += Number(r.Quantity);
      m.set(key, line);
    }
    return [...m.values()];
  };
  const expectedEvents = (no: string) => 1 + linesOf(no).length + 2 + (cancelledBy.has(no) ? 1 : 0);

  it('writes one order per sales invoice and exactly the events the rows imply', () => {
    expect(invoices.size).toBe(2_333);
    expect(salesNos()).toHaveLength(1_887);
    expect(first.invoices).toBe(1_887);
    expect(first.cancellationInvoices).toBe(446);
    expect(first.rows).toBe(44_951);
    expect(readModel).toHaveLength(1_887);
    const total = salesNos().reduce((n, no) => n + expectedEvents(no), 0);
    expect(first.eventsAppended).toBe(total);
    expect(first.commandsSent).toBe(total);
    expect(readModel.reduce((n, o) => n + o.version, 0)).toBe(total);
    expect(first.anomalies).toMatchObject({ refusedCommands: 0, invalidRow: 0, streamDiffers: 0 });
    expect(first.problems).toEqual([]);
  });

  it('cancels the orders the matching rule names and counts the rest as anomalies', () => {
    expect(cancelledBy.size + unmatched).toBe(446);
    expect(first.cancellationsMatched).toBe(cancelledBy.size);
    expect(first.anomalies.cancellationUnmatched).toBe(unmatched);
    expect(first.anomalies.partialCancellation).toBe(partial);
    const cancelled = readModel.filter((o) => o.status === 'cancelled').map((o) => o.orderId);
    expect(cancelled.sort()).toEqual([...cancelledBy.keys()].map((no) => `online-retail-${no}`).sort());
    expect(readModel.filter((o) => o.status === 'accepted')).toHaveLength(1_887 - cancelledBy.size);
  });

  it('records sampled orders row by row: customer, lines, quantities, prices, totals and times', async () => {
    const nos = salesNos();
    const byLines = [...nos].sort((a, b) => linesOf(b).length - linesOf(a).length);
    const samples = [
      byLines[0], // the largest invoice (over the 50 lines a live order may hold)
      nos.find((no) => new Set(invoices.get(no)!.map((r) => r.InvoiceDate)).size > 1)!,
      nos.find((no) => invoices.get(no)!.some((r) => pence(r.UnitPrice) === 0))!,
      nos.find((no) => linesOf(no).length > new Set(invoices.get(no)!.map((r) => r.StockCode)).size)!,
      ...[...cancelledBy.keys()].slice(0, 3),
      ...[0, 500, 1000, 1886].map((k) => nos[k]),
    ];
    expect(linesOf(byLines[0]).length).toBeGreaterThan(50);
    for (const no of samples) {
      const rows = invoices.get(no)!;
      const orderId = `online-retail-${no}`;
      const { events } = await services.store.readStream(orderId);
      expect(events.length, no).toBe(expectedEvents(no));
      const at = new Date(Math.min(...rows.map((r) => ukToUtcMs(r.InvoiceDate)))).toISOString();
      expect(events[0]).toMatchObject({ type: 'OrderCreated', data: { customerId: rows[0].CustomerID } });
      for (const e of events.slice(0, -1)) expect(e.occurredAt).toBe(at);
      for (const e of events)
        expect(e.metadata).toEqual({ actor: 'import:online-retail', correlationId: orderId });
      const cancellation = cancelledBy.get(no);
      const last = events.at(-1)!;
      if (cancellation) {
        expect(last).toMatchObject({
          type: 'OrderCancelled',
          data: { reason: `cancellation invoice ${cancellation}` },
        });
        expect(last.occurredAt).toBe(
          new Date(
            Math.min(...invoices.get(cancellation)!.map((r) => ukToUtcMs(r.InvoiceDate))),
          ).toISOString(),
        );
      } else expect(last.type).toBe('OrderAccepted');

      const entry = await services.readModel.get(orderId);
      const lines = linesOf(no);
      const totalPence = lines.reduce((n, l) => n + l.quantity * l.pence, 0);
      expect(entry?.summary.total, no).toBe((totalPence / 100).toFixed(2));
      expect(entry?.summary.currency).toBe('GBP');
      expect(entry?.summary.itemCount).toBe(lines.reduce((n, l) => n + l.quantity, 0));
      const stored = entry!.state.lines.map((l) => [
        l.productId.split(':')[0],
        l.quantity,
        pence(l.unitPrice),
      ]);
      expect(stored.sort(), no).toEqual(lines.map((l) => [l.code, l.quantity, l.pence]).sort());
    }
  });

  it('appends nothing when run a second time', async () => {
    const second = await importOnlineRetail(retailDir, services);
    expect(second.eventsAppended).toBe(0);
    expect(second.commandsSent).toBe(0);
    expect(second.ordersAlreadyComplete).toBe(1_887);
    expect(second.anomalies).toEqual(first.anomalies);
    expect(second.readModel?.commits).toBe(0);
  });
});
