import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/sqlite/database';
import { SqliteStockReservations } from '../../src/store/sqlite/sqliteStockReservations';
import { InsufficientStockError, StockUnavailableError } from '../../src/store/stockReservations';

const open = (options: ConstructorParameters<typeof SqliteStockReservations>[1]) =>
  new SqliteStockReservations(openDatabase(mkdtempSync(join(tmpdir(), 'orders-stock-'))), options);

const request = (orderId: string, productId: string, quantity: number) => ({
  reservationId: `${orderId}/${productId}`,
  orderId,
  productId,
  quantity,
});

describe('stock reservations in SQLite', () => {
  it('reserves once per reservation id: a repeat returns the first reservation and takes no more stock', async () => {
    const stock = open({ levels: { sku: 5 } });
    const first = await stock.reserve(request('o-1', 'sku', 2));
    const again = await stock.reserve(request('o-1', 'sku', 2));
    expect(again).toEqual(first);
    expect(first).toMatchObject({ status: 'reserved', quantity: 2 });
    expect(await stock.available('sku')).toBe(3);
    await stock.close();
  });

  it('refuses a quantity above the available stock, and treats unlisted products as unlimited', async () => {
    const stock = open({ levels: { sku: 3 } });
    await stock.reserve(request('o-1', 'sku', 2));
    await expect(stock.reserve(request('o-2', 'sku', 2))).rejects.toThrow(InsufficientStockError);
    await expect(stock.reserve(request('o-2', 'sku', 2))).rejects.toThrow('2 requested, 1 available');
    expect(await stock.available('other')).toBeUndefined();
    await expect(stock.reserve(request('o-2', 'other', 1_000_000))).resolves.toMatchObject({
      status: 'reserved',
    });
    await stock.close();
  });

  it('returns released units to stock, and a second release changes nothing', async () => {
    const stock = open({ levels: { sku: 1 } });
    await stock.reserve(request('o-1', 'sku', 1));
    const released = await stock.release('o-1/sku');
    expect(released).toMatchObject({ status: 'released', releasedAt: expect.any(String) });
    expect(await stock.release('o-1/sku')).toEqual(released);
    expect(await stock.release('nothing')).toBeUndefined();
    expect(await stock.available('sku')).toBe(1);
    await stock.close();
  });

  it('fails the first N attempts of a product named in the simulated failures, then reserves', async () => {
    const stock = open({ levels: {}, failures: { flaky: 2 } });
    await expect(stock.reserve(request('o-1', 'flaky', 1))).rejects.toThrow(StockUnavailableError);
    await expect(stock.reserve(request('o-1', 'flaky', 1))).rejects.toThrow('simulated failure 2 of 2');
    await expect(stock.reserve(request('o-1', 'flaky', 1))).resolves.toMatchObject({ status: 'reserved' });
    await expect(stock.reserve(request('o-1', 'flaky', 1))).resolves.toMatchObject({ status: 'reserved' });
    await expect(stock.reserve(request('o-2', 'flaky', 1))).rejects.toThrow('simulated failure 1 of 2');
    await stock.close();
  });
});
