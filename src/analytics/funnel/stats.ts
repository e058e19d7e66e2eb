/**
 * The `p`-quantile of `values` (0 ≤ p ≤ 1) by linear interpolation between the closest ranks: definition 7 of
 * Hyndman and Fan, "Sample Quantiles in Statistical Packages" (The American Statistician 50(4), 1996), the
 * default of R's `quantile`, numpy's `percentile` and Excel's `PERCENTILE.INC`. The median is p = 0.5 (the
 * mean of the two middle values of an even count). Returns null for no values. `values` is not modified.
 * @throws RangeError for p outside [0, 1]
 */
export function quantile(values: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must be within [0, 1], got ${p}`);
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** `part / whole`, or null when `whole` is 0. */
export const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);
