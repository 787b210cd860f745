// periods: the planned periods of an agreement (its cadence, start and
// end), as shanhai-rules(5) defines them, and the term in force.

export function yearsOf(a) {
  const y0 = Number(a.start.slice(0, 4)), y1 = Number(a.end.slice(0, 4));
  const out = [];
  for (let y = y0; y <= y1; y++) out.push(String(y));
  return out;
}

// Every period of year y inside the agreement, in order.
export function periodsOf(a, y) {
  let all;
  if (a.cadence === 'monthly')
    all = Array.from({ length: 12 }, (_, i) =>
      `${y}-${String(i + 1).padStart(2, '0')}`);
  else if (a.cadence === 'quarterly')
    all = [1, 2, 3, 4].map((q) => `${y}-Q${q}`);
  else all = [String(y)];
  return all.filter((p) => inside(a, p));
}

// Periods compare as strings within one cadence ("2026-03" < "2026-11").
function inside(a, p) {
  return p >= a.start && p <= a.end;
}

// The term in force for period p (the last whose from is not after it).
export function termOf(a, p) {
  let found = null;
  for (const term of a.terms || []) if (term.from <= p) found = term;
  return found;
}

// The sides of agreement a this bureau speaks for: 'host', 'home', both.
export function sidesOf(me, a) {
  const out = [];
  if (me.role !== 'bureau') return out;
  if (me.codes.includes(a.host)) out.push('host');
  if (me.codes.includes(a.home)) out.push('home');
  return out;
}

// The sides it may send reports for: the home side only confirms, and only
// where the agreement has confirm = true.
export function reportSidesOf(me, a) {
  return sidesOf(me, a).filter((s) => s === 'host' || a.confirm);
}
