// Display formatting. Credits have at most 6 decimals (micro-credits), so rounding a credit number to
// 6 places for display is exact.
const creditsFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });
const signedCreditsFormat = new Intl.NumberFormat('en-US', {
  maximumFractionDigits: 6,
  signDisplay: 'exceptZero',
});
const countFormat = new Intl.NumberFormat('en-US');
const usdFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

export function formatCredits(value: number, signed = false): string {
  return (signed ? signedCreditsFormat : creditsFormat).format(value);
}

/** Integer micro-credits as grouped credits for display; at most 6 decimals, so the rounding is exact. */
export function formatMicros(micros: number, signed = false): string {
  return formatCredits(micros / 1e6, signed);
}

/** Integer micro-credits as an exact decimal string of credits (`1500000` → `"1.5"`), with no float in between. */
export function microsText(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const digits = String(Math.abs(micros)).padStart(7, '0');
  const fraction = digits.slice(-6).replace(/0+$/, '');
  return `${sign}${digits.slice(0, -6)}${fraction ? `.${fraction}` : ''}`;
}

export function formatCount(value: number): string {
  return countFormat.format(value);
}

export function formatUsd(value: number): string {
  return usdFormat.format(value);
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

/**
 * A decimal from Rust (a price, a rate, a USD cost) with exactly the digits it was sent with: JSON numbers
 * of up to 15 significant digits parse to the double whose shortest form is that decimal, so `String()` gives
 * the digits back. Only the exponent form `String()` uses for tiny or huge values is written out here.
 * No grouping: this is also what an edit field starts with, and what Rust parses back.
 */
export function exactDecimal(value: number): string {
  const text = String(value);
  const sign = text.startsWith('-') ? '-' : '';
  const [mantissa, exponent] = text.slice(sign.length).split('e');
  if (exponent === undefined) return text;
  const [int, frac = ''] = mantissa.split('.');
  const digits = int + frac;
  const point = int.length + Number(exponent); // where the decimal point falls within `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** `exactDecimal` with the integer part grouped, for display. */
export function formatExact(value: number): string {
  const [int, frac] = exactDecimal(value).split('.');
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac === undefined ? '' : `.${frac}`);
}
