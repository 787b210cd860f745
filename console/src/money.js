// money: amounts as the ledger writes them (SPEC §2), never through floats.
// An amount is a string of yuan with at most two decimals and at most 13
// integer digits, optionally negative.

const AMOUNT = /^-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$/;

// Is s an amount the daemon takes? Returns null, or the reason's message key.
export function amountProblem(s) {
  if (s === '') return 'err.amount.empty';
  if (/^\s|\s$/.test(s)) return 'err.amount.space';
  if (/[,，]/.test(s)) return 'err.amount.comma';
  if (/^-?[0-9]+\.[0-9]{3,}$/.test(s)) return 'err.amount.decimals';
  if (/^-?[0-9]{14,}(\.[0-9]*)?$/.test(s)) return 'err.amount.digits';
  if (!AMOUNT.test(s)) return 'err.amount.form';
  return null;
}

// The amount in fen as a BigInt (s must pass amountProblem).
export function toFen(s) {
  const neg = s.startsWith('-');
  const [w, f = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(w) * 100n + BigInt((f + '00').slice(0, 2));
  return neg ? -v : v;
}

// Fen back to the ledger's form, "-1234.50".
export function fromFen(v) {
  const neg = v < 0n;
  const a = neg ? -v : v;
  return (neg ? '-' : '') + (a / 100n).toString() + '.' +
    (a % 100n).toString().padStart(2, '0');
}

// "1234567.8" -> "1,234,567.80": thousands separators, two decimals, from
// the string itself (zh-CN groups by three like the ledger's readers expect).
export function formatAmount(s) {
  if (s === null || s === undefined) return '—';
  if (!AMOUNT.test(s)) return String(s);
  const neg = s.startsWith('-');
  let [w, f = ''] = (neg ? s.slice(1) : s).split('.');
  f = (f + '00').slice(0, 2);
  w = w.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg && (w !== '0' || f !== '00') ? '-' : '') + w + '.' + f;
}

// Only for drawing a chart: yuan as a Number (never for display or sums).
export function plotValue(s) {
  return Number(toFen(s)) / 100;
}
