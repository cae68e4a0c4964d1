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
