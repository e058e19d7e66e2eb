import { openDatabase } from '../store/sqlite/database';
import { SqliteStockReservations } from '../store/sqlite/sqliteStockReservations';
import { StockReservations } from '../store/stockReservations';
import { AcceptanceDeps } from './acceptance';
import { AcceptanceSettings, readAcceptanceSettings } from './acceptanceSettings';
import { getServices } from './services';
import { readSettings } from './settings';

interface AcceptanceServices {
  settings: AcceptanceSettings;
  stock: StockReservations;
}

let current: AcceptanceServices | undefined;

/**
 * What the acceptance activities work with: the order command handling of the process-wide services, the
 * acceptance settings, and the stock reservations (SQLite under DATA_DIR, a connection of its own; the
 * inventory is a separate concern from the event store, whichever EVENT_STORE is).
 * @throws SettingsError naming an invalid setting
 */
export function getAcceptanceDeps(): AcceptanceDeps {
  if (!current) {
    const settings = readAcceptanceSettings();
    const stock = new SqliteStockReservations(openDatabase(readSettings().DATA_DIR), {
      levels: settings.STOCK_LEVELS,
      failures: settings.STOCK_RESERVATION_FAILURES,
    });
    current = { settings, stock };
  }
  return { orders: getServices().orders, stock: current.stock, settings: current.settings };
}

/** Closes the stock reservations' connection (host shutdown, tests). */
export async function closeAcceptanceServices(): Promise<void> {
  const s = current;
  current = undefined;
  await s?.stock.close();
}
