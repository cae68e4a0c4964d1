import { describe, expect, it } from 'vitest';
import { exactDecimal, formatExact, microsText } from './format';

describe('exact decimals', () => {
  it('gives back the digits Rust sent, writing out what String() puts in exponent form', () => {
    expect([0.0025, 0.00015, 1e-7, 1.5e-7, 7.25, 1e21, -2.5e-7, 0].map(exactDecimal)).toEqual([
      '0.0025',
      '0.00015',
      '0.0000001',
      '0.00000015',
      '7.25',
      '1000000000000000000000',
      '-0.00000025',
      '0',
    ]);
  });

  it('groups the integer part for display only', () => {
    expect([1200.5, 1000, 0.0036, 1234567.000001].map(formatExact)).toEqual(['1,200.5', '1,000', '0.0036', '1,234,567.000001']);
  });
});

describe('microsText', () => {
  it('writes integer micro-credits as exact credits', () => {
    expect(microsText(0)).toBe('0');
    expect(microsText(1_500_000)).toBe('1.5');
    expect(microsText(1)).toBe('0.000001');
    expect(microsText(-12_345_678)).toBe('-12.345678');
    expect(microsText(9_007_199_254_740_991)).toBe('9007199254.740991');
  });
});
