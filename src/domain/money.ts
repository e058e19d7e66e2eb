/**
 * Money as decimal strings, never binary floats.
 *
 * Amounts travel and are stored as canonical decimal strings with exactly the number of fraction
 * digits of the currency's ISO 4217 minor unit ("199.00" BRL, "1500" JPY). Arithmetic happens on
 * integer minor units held in `bigint`, so sums of any size are exact.
 */

const DECIMAL = /^(0|[1-9]\d{0,15})(?:\.(\d{1,6}))?$/;

let knownCurrencies: Set<string> | undefined;

/** True when `code` is an ISO 4217 currency code that the runtime's Intl data knows. */
export function isCurrency(code: string): boolean {
  knownCurrencies ??= new Set(Intl.supportedValuesOf('currency'));
  return knownCurrencies.has(code);
}

/** Number of fraction digits of the currency's minor unit (ISO 4217, via Intl): 2 for BRL, 0 for JPY. */
export function minorDigits(currency: string): number {
  // Cached: building an Intl.NumberFormat costs ~0.1 ms, and order totals call this once per line.
  let digits = digitsOf.get(currency);
  if (digits === undefined) {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
    digitsOf.set(currency, digits);
  }
  return digits;
}

const digitsOf = new Map<string, number>();

export class MoneyFormatError extends Error {}

/**
 * Parses a non-negative decimal string into integer minor units of `currency`.
 * Trailing zeros beyond the minor unit are accepted ("199.000" BRL); any other extra precision is not.
 * @throws MoneyFormatError when the text is not a plain non-negative decimal or has too many digits.
 */
export function toMinorUnits(amount: string, currency: string): bigint {
  const m = DECIMAL.exec(amount);
  if (!m) throw new MoneyFormatError(`"${amount}" is not a non-negative decimal such as "199.00"`);
  const digits = minorDigits(currency);
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > digits) {
    throw new MoneyFormatError(`"${amount}" has more fraction digits than ${currency} allows (${digits})`);
  }
  return BigInt(m[1]) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
}

/** Formats integer minor units as the canonical decimal string of `currency`. */
export function fromMinorUnits(minor: bigint, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return minor.toString();
  const s = minor.toString().padStart(digits + 1, '0');
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** Canonical form of a decimal amount: "199.0" BRL becomes "199.00". @throws MoneyFormatError */
export function canonicalAmount(amount: string, currency: string): string {
  return fromMinorUnits(toMinorUnits(amount, currency), currency);
}
