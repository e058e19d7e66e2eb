/** Strong ETag of an order version: `"3"`. */
export const etagOf = (version: number): string => `"${version}"`;

export type IfMatch =
  { kind: 'none' } | { kind: 'any' } | { kind: 'version'; version: number } | { kind: 'invalid' };

/**
 * Reads `If-Match` (RFC 9110 §13.1.1): `*`, or one entity tag naming a version. Weak tags (`W/"3"`) are
 * accepted as the same version, since clients and proxies often weaken them.
 */
export function parseIfMatch(header: string | null): IfMatch {
  if (header === null) return { kind: 'none' };
  const value = header.trim();
  if (value === '*') return { kind: 'any' };
  const m = /^(?:W\/)?"(0|[1-9]\d{0,14})"$/.exec(value);
  return m ? { kind: 'version', version: Number(m[1]) } : { kind: 'invalid' };
}
