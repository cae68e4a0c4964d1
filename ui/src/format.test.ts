import { afterEach, describe, expect, it } from 'vitest';
import { formatCount, formatCredits, formatDecimal, formatMicros, formatUsd, microsText, parseDecimal, parseMicros } from './format';
import i18n from './i18n';

// More significant digits than a double holds (about 16): any float on the way loses some.
const LONG_CREDITS = '12345678901234.567891';

describe('parsing decimals', () => {
  it('reads plain decimal strings exactly', () => {
    expect(parseDecimal('0.000123456789')).toEqual({ units: 123_456_789n, scale: 12 });
    expect(parseDecimal('-12.50')).toEqual({ units: -1250n, scale: 2 });
    expect(parseDecimal('1000')).toEqual({ units: 1000n, scale: 0 });
  });

  it('refuses what is not a plain decimal', () => {
    for (const junk of ['', ' 1', '1 ', '1e3', '1,000', '+1', '1.', '.5', '--1', '0x10', 'NaN', 'Infinity', '1.2.3', '１']) {
      expect(parseDecimal(junk), junk).toBeNull();
      expect(parseMicros(junk), junk).toBeNull();
    }
  });

  it('reads credits as integer micro-credits, refusing what is finer than a micro-credit', () => {
    expect(parseMicros('0.000001')).toBe(1n);
    expect(parseMicros('-12.5')).toBe(-12_500_000n);
    expect(parseMicros(LONG_CREDITS)).toBe(12_345_678_901_234_567_891n);
    expect(parseMicros('0.0000001')).toBeNull();
    expect(parseMicros('1.0000001')).toBeNull();
    // Trailing zeros are not finer: Rust's parse_credits takes them too.
    expect(parseMicros('1.5000000')).toBe(1_500_000n);
  });

  it('adds 0.1 and 0.2 to exactly 0.3', () => {
    const sum = parseMicros('0.1')! + parseMicros('0.2')!;
    expect(sum).toBe(parseMicros('0.3'));
    expect(microsText(sum)).toBe('0.3');
    expect(formatMicros(sum)).toBe('0.3');
  });
});

describe('formatting money', () => {
  afterEach(() => i18n.changeLanguage('en'));

  it('shows every digit of credits beyond what a float holds', () => {
    expect(formatCredits(LONG_CREDITS)).toBe('12,345,678,901,234.567891');
    expect(formatMicros(12_345_678_901_234_567_891n)).toBe('12,345,678,901,234.567891');
    expect(formatCredits('-9007199254740993')).toBe('-9,007,199,254,740,993');
  });

  it('drops trailing zeros, and signs only what is not zero', () => {
    expect(formatCredits('1.500000')).toBe('1.5');
    expect(formatCredits('0')).toBe('0');
    expect(formatCredits('-0.5')).toBe('-0.5');
    expect(formatCredits('4.5', { signed: true })).toBe('+4.5');
    expect(formatCredits('-4.5', { signed: true })).toBe('-4.5');
    expect(formatCredits('0', { signed: true })).toBe('0');
    expect(formatMicros(-1)).toBe('-0.000001');
  });

  it('rounds to chosen decimals half away from zero, on the decimal digits', () => {
    // As a double 1.005 is 1.00499999999999989…, so float rounding gives 1.00.
    expect(formatCredits('1.005', { fractionDigits: 2 })).toBe('1.01');
    expect(formatCredits('-1.005', { fractionDigits: 2 })).toBe('-1.01');
    expect(formatCredits('-0.004', { fractionDigits: 2 })).toBe('0.00');
    expect(formatCredits('999.999', { fractionDigits: 2 })).toBe('1,000.00');
    expect(formatCredits('7', { fractionDigits: 3 })).toBe('7.000');
    expect(formatCredits(LONG_CREDITS, { fractionDigits: 0 })).toBe('12,345,678,901,235');
  });

  it('keeps every digit of prices and rates, grouped for display', () => {
    expect(formatDecimal('0.000123456789')).toBe('0.000123456789');
    expect(formatDecimal('1234.1234567890123456789')).toBe('1,234.1234567890123456789');
    expect(formatDecimal('1000')).toBe('1,000');
  });

  it('shows USD in cents, exactly', () => {
    expect(formatUsd('9.960675')).toBe('$9.96');
    expect(formatUsd('0.125')).toBe('$0.13');
    expect(formatUsd('-2.5')).toBe('-$2.50');
    expect(formatUsd('12345678901234.565')).toBe('$12,345,678,901,234.57');
  });

  it('shows text that is not a decimal as sent', () => {
    expect(formatCredits('1e-7')).toBe('1e-7');
    expect(formatCredits('0.0000001')).toBe('0.0000001');
    expect(formatDecimal('abc')).toBe('abc');
  });

  it('follows the language', async () => {
    await i18n.changeLanguage('zh');
    expect(formatCredits(LONG_CREDITS)).toBe('12,345,678,901,234.567891');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatUsd('1234.5')).toBe('US$1,234.50');
  });
});

describe('microsText', () => {
  it('writes integer micro-credits as exact credits', () => {
    expect(microsText(0)).toBe('0');
    expect(microsText(1_500_000)).toBe('1.5');
    expect(microsText(1)).toBe('0.000001');
    expect(microsText(-12_345_678)).toBe('-12.345678');
    expect(microsText(9_007_199_254_740_991)).toBe('9007199254.740991');
    expect(microsText(12_345_678_901_234_567_891n)).toBe(LONG_CREDITS);
  });

  it('refuses a micro-credit count that is not an integer', () => {
    expect(() => microsText(0.5)).toThrow(RangeError);
  });
});
