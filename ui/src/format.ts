// Display formatting, and money as exact decimals. Money crosses the IPC as decimal strings (credits, prices
// in USD per 1K tokens, the rate, USD) or as integer micro-credits; here it becomes a BigInt, never a float, so
// every digit Rust sent is the digit shown, and what a form sends back is the text as typed or loaded.
import i18next from 'i18next';
import type { Lang } from './i18n';

/** Credits have 6 decimals: the ledger counts integer micro-credits. */
const CREDIT_SCALE = 6;

/** An exact decimal: `units` × 10^-`scale`. */
export interface Decimal {
  units: bigint;
  scale: number;
}

const PLAIN_DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A plain decimal string (`"-12.5"`, `"0.000123456789"`) exactly; null for anything else (exponents, grouping, `+`, blanks). */
export function parseDecimal(text: string): Decimal | null {
  const match = PLAIN_DECIMAL.exec(text);
  if (!match) return null;
  const [, sign, int, fraction = ''] = match;
  const units = BigInt(int + fraction);
  return { units: sign ? -units : units, scale: fraction.length };
}

/** Whether a decimal string is exactly zero (`"0"`, `"0.000"`). */
export const isZero = (text: string) => parseDecimal(text)?.units === 0n;

/**
 * Credits as integer micro-credits. Null when the text is not a plain decimal or is finer than a micro-credit
 * (`"0.0000001"`); trailing zeros beyond 6 decimals are not finer, as Rust's `parse_credits` also holds.
 */
export function parseMicros(text: string): bigint | null {
  const value = parseDecimal(text);
  if (!value) return null;
  let { units, scale } = value;
  for (; scale > CREDIT_SCALE; scale--) {
    if (units % 10n !== 0n) return null;
    units /= 10n;
  }
  return units * 10n ** BigInt(CREDIT_SCALE - scale);
}

export interface FormatOptions {
  /** A `+` on amounts above zero too, as on entries that credit. */
  signed?: boolean;
  /** Exactly this many decimals, rounded half away from zero (as Intl rounds); by default every significant one. */
  fractionDigits?: number;
}

/** A decimal's sign (of what is shown), whole part and decimals as text, rounded to `fractionDigits` if given. */
function split({ units, scale }: Decimal, fractionDigits?: number) {
  let magnitude = units < 0n ? -units : units;
  let digits = scale;
  if (fractionDigits !== undefined && fractionDigits < scale) {
    const dropped = 10n ** BigInt(scale - fractionDigits);
    magnitude = (magnitude + dropped / 2n) / dropped;
    digits = fractionDigits;
  }
  const unit = 10n ** BigInt(digits);
  const kept = digits ? (magnitude % unit).toString().padStart(digits, '0') : '';
  const fraction = fractionDigits === undefined ? kept.replace(/0+$/, '') : kept.padEnd(fractionDigits, '0');
  const sign = magnitude === 0n ? 0 : units < 0n ? -1 : 1;
  return { sign, whole: magnitude / unit, fraction };
}

/** Integer micro-credits as the plain decimal text of credits (`1500000` → `"1.5"`): what a form edits and Rust parses. */
export function microsText(micros: bigint | number): string {
  const { sign, whole, fraction } = split({ units: BigInt(micros), scale: CREDIT_SCALE });
  return `${sign < 0 ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** How a locale writes numbers: Intl groups the whole part and names the separator and the signs; the digits are ours. */
interface NumberStyle {
  plain: Intl.NumberFormat;
  usd: Intl.NumberFormat;
  decimal: string;
  minus: string;
  plus: string;
}

function numberStyle(locale: string): NumberStyle {
  const part = (value: bigint, type: Intl.NumberFormatPartTypes) =>
    new Intl.NumberFormat(locale, { minimumFractionDigits: 1, signDisplay: 'always' }).formatToParts(value).find((p) => p.type === type)!.value;
  const whole = { minimumFractionDigits: 0, maximumFractionDigits: 0 };
  return {
    plain: new Intl.NumberFormat(locale, whole),
    usd: new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', ...whole }),
    decimal: part(1n, 'decimal'),
    minus: part(-1n, 'minusSign'),
    plus: part(1n, 'plusSign'),
  };
}

const NUMBER_STYLES: Record<Lang, NumberStyle> = { en: numberStyle('en-US'), zh: numberStyle('zh-CN') };

/** Numbers follow the window's language, read at each call so a switch shows at the next render. */
const currentStyle = (): NumberStyle => NUMBER_STYLES[i18next.language === 'zh' ? 'zh' : 'en'];

function formatValue(value: Decimal, { signed = false, fractionDigits }: FormatOptions, kind: 'plain' | 'usd' = 'plain'): string {
  const { sign, whole, fraction } = split(value, fractionDigits);
  const style = currentStyle();
  const parts = style[kind].formatToParts(whole);
  // The decimals go right after the whole part's last digits, before anything a locale writes after them.
  const last = parts.map((p) => p.type).lastIndexOf('integer');
  const body = parts.map((p, i) => (i === last && fraction ? `${p.value}${style.decimal}${fraction}` : p.value)).join('');
  return (sign < 0 ? style.minus : signed && sign > 0 ? style.plus : '') + body;
}

/** Integer micro-credits (a BigInt, or a `*_micros` integer from JSON) as credits for display. */
export function formatMicros(micros: bigint | number, options: FormatOptions = {}): string {
  return formatValue({ units: BigInt(micros), scale: CREDIT_SCALE }, options);
}

/**
 * A decimal string from Rust (a price, a rate, a USD cost) for display, every digit kept unless
 * `fractionDigits` says otherwise. Text that is not a plain decimal is shown as sent rather than hidden.
 */
export function formatDecimal(text: string, options: FormatOptions = {}): string {
  const value = parseDecimal(text);
  return value ? formatValue(value, options) : text;
}

/** Credits as Rust sends them (a decimal string), for display through their micro-credits. */
export function formatCredits(text: string, options: FormatOptions = {}): string {
  const micros = parseMicros(text);
  return micros === null ? text : formatMicros(micros, options);
}

/** USD as Rust sends it (a decimal string), in cents with the locale's currency sign. */
export function formatUsd(text: string): string {
  const value = parseDecimal(text);
  return value ? formatValue(value, { fractionDigits: 2 }, 'usd') : text;
}

export function formatCount(value: number): string {
  return currentStyle().plain.format(value);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 time as local `YYYY-MM-DD HH:mm:ss`, the form admin tools here use in both languages. */
export function formatTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return String(iso);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}
