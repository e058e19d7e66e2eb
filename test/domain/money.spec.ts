import { describe, expect, it } from 'vitest';
import { canonicalAmount, isCurrency, MoneyFormatError, toMinorUnits } from '../../src/domain/money';

describe('money as decimal strings', () => {
  it('canonicalises to the minor unit of the currency', () => {
    expect(canonicalAmount('199.0', 'BRL')).toBe('199.00');
    expect(canonicalAmount('0', 'BRL')).toBe('0.00');
    expect(canonicalAmount('1500', 'JPY')).toBe('1500');
    expect(canonicalAmount('1.5', 'KWD')).toBe('1.500');
  });

  it('adds exactly where binary floats do not', () => {
    expect(toMinorUnits('0.10', 'USD') + toMinorUnits('0.20', 'USD')).toBe(30n);
  });

  it('refuses more fraction digits than the currency has, and non-decimals', () => {
    expect(() => toMinorUnits('1.234', 'USD')).toThrow(MoneyFormatError);
    expect(() => toMinorUnits('-1', 'USD')).toThrow(MoneyFormatError);
    expect(() => toMinorUnits('1e3', 'USD')).toThrow(MoneyFormatError);
    expect(toMinorUnits('1.230', 'USD')).toBe(123n);
  });

  it('knows ISO 4217 codes', () => {
    expect(isCurrency('BRL')).toBe(true);
    expect(isCurrency('XYZ')).toBe(false);
  });
});
