/**
 * Formatting only: every figure comes from an API answer as it is; these turn it into text (English, the
 * reader's time zone).
 */

const integer = new Intl.NumberFormat('en');
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat('en', {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

export const dash = '–';

export const fmtInt = (n: number | null | undefined): string =>
  n === null || n === undefined ? dash : integer.format(n);

/** "1 order", "15,000 orders". */
export const plural = (n: number, one: string, many = `${one}s`): string =>
  `${fmtInt(n)} ${n === 1 ? one : many}`;

export const fmtPercent = (fraction: number | null | undefined): string =>
  fraction === null || fraction === undefined ? dash : percent.format(fraction);

/** Seconds as a human duration: "850 ms", "42 s", "3 min 20 s", "5 h 12 min", "4 d 6 h". */
export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return dash;
  const s = Math.abs(seconds);
  const sign = seconds < 0 ? '−' : '';
  if (s < 1) return `${sign}${Math.round(s * 1000)} ms`;
  if (s < 60) return `${sign}${decimal.format(s)} s`;
  const parts = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    `${sign}${big} ${bigUnit}` + (small ? ` ${small} ${smallUnit}` : '');
  if (s < 3600) return parts(Math.floor(s / 60), 'min', Math.floor(s % 60), 's');
  if (s < 86400) return parts(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'min');
  return parts(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h');
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** An instant in the reader's time zone as "2018-03-01 14:05:09" (with milliseconds when asked). */
export function fmtTime(iso: string | null | undefined, withMs = false): string {
  if (!iso) return dash;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const text =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

/** "14:05" of an instant, for chart axes. */
export const fmtClock = (iso: string): string => {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A datetime-local input's value ("2018-01-01T00:00") for an ISO instant, in the reader's time zone. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The ISO instant of a datetime-local input's value (read in the reader's time zone); undefined when empty. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** "OrderSubmitted" → "Order submitted". */
export const humanType = (type: string): string =>
  type.replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);

/** Event data as compact text: `productId=sku-1, quantity=2`. */
export const fmtData = (data: Record<string, unknown>): string =>
  Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
