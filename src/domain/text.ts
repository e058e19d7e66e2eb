/** Text a person reads: no control characters but tab and newline, and well-formed UTF-16. */
export function printable(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- the point is to find control characters
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  return !control.test(text) && !loneSurrogate.test(text);
}
