// agreement: one agreement's periods by year, each cell coloured by its
// status (waiting, settled, disputed, adjusted), a link to each period and
// to each year's statement. Years are shown a few at a time, latest first.
import { getJSON, enc, ApiError } from '../api.js';
import { h, add } from '../dom.js';
import { t, getLang, periodName } from '../i18n.js';
import { sideName } from '../codes.js';
import { yearsOf, periodsOf, termOf } from '../periods.js';
import { formatAmount } from '../money.js';

const SHOWN = 3;

// A settled period that has more than its first report(s) and settlement
// was corrected or adjusted since.
export function statusOf(p, a) {
  if (p.status === 'settled' &&
      p.entries.length > (a.confirm ? 3 : 2)) return 'adjusted';
  return p.status;
}

export async function findAgreement(id) {
  const { agreements } = await getJSON('/v1/agreements');
  const a = agreements.find((x) => x.id === id);
  // The API answers 404 for an agreement a bureau is not a side of.
  if (!a) throw new ApiError(404, `agreement: "${id}" is not a loaded agreement`);
  return a;
}

function termText(term) {
  if (!term) return '—';
  if (term.fixed) return t('term.fixed', { annual: formatAmount(term.fixed.annual) });
  const parts = [];
  if (term.home) parts.push(t('term.home', { share: term.home }));
  if (term.bands) parts.push(t('term.bands', { n: term.bands.length }));
  if (term.floor) parts.push(t('term.floor', { amount: formatAmount(term.floor) }));
  if (term.cap) parts.push(t('term.cap', { amount: formatAmount(term.cap) }));
  return parts.join(t('list.sep'));
}

export async function render(el, ctx, params) {
  const a = await findAgreement(params.id);
  const lang = getLang();
  const years = yearsOf(a);
  const now = String(new Date().getFullYear());
  const last = years.includes(now) ? now : years[years.length - 1];
  let upto = params.query.get('upto') || last;
  if (!years.includes(upto)) upto = last;
  const shown = years.filter((y) => y <= upto).slice(-SHOWN).reverse();

  const rows = await Promise.all(shown.map(async (y) => {
    const ps = periodsOf(a, y);
    const states = await Promise.all(ps.map((p) =>
      getJSON(`/v1/agreements/${enc(a.id)}/periods/${enc(p)}`)));
    return [y, states];
  }));

  const cols = a.cadence === 'monthly' ? 12 : a.cadence === 'quarterly' ? 4 : 1;
  add(el,
    h('div', { class: 'pagehead' },
      h('p', { class: 'crumbs' }, h('a', { href: '#/agreements' },
        t('nav.agreements')), ' / ', a.id),
      h('h1', {}, a.title),
      h('dl', { class: 'facts' },
        h('dt', {}, t('side.home')), h('dd', {}, sideName(a, 'home', lang),
          h('span', { class: 'code' }, a.home)),
        h('dt', {}, t('side.host')), h('dd', {}, sideName(a, 'host', lang),
          h('span', { class: 'code' }, a.host)),
        h('dt', {}, t('agreement.cadence')), h('dd', {}, t(`cadence.${a.cadence}`)),
        h('dt', {}, t('agreement.span')), h('dd', {}, `${a.start} – ${a.end}`),
        h('dt', {}, t('agreement.term')), h('dd', {},
          termText(termOf(a, `${last}-12`))),
        h('dt', {}, t('agreement.sha256')), h('dd', { class: 'hash' }, a.sha256))),
    h('div', { class: 'legend', 'aria-hidden': 'true' },
      ['waiting', 'settled', 'adjusted', 'disputed'].map((s) =>
        h('span', { class: `cell st-${s}` }, t(`status.${s}`)))),
    h('table', { class: `periods cols-${cols}`, id: 'periods' },
      h('caption', {}, t('agreement.grid')),
      h('tbody', {}, rows.map(([y, states]) => h('tr', { dataset: { year: y } },
        h('th', { scope: 'row' }, h('a', {
          href: `#/agreements/${enc(a.id)}/years/${y}`,
          title: t('agreement.statementOf', { year: y }) }, y),
        h('div', { class: 'stmt' }, h('a', {
          href: `#/agreements/${enc(a.id)}/years/${y}` }, t('agreement.statement')))),
        states.map((p) => {
          const st = statusOf(p, a);
          return h('td', {}, h('a', {
            class: `cell st-${st}`, href:
              `#/agreements/${enc(a.id)}/periods/${enc(p.period)}`,
            dataset: { period: p.period, status: st },
            title: `${periodName(p.period)}: ${t(`status.${st}`)}` },
          h('span', { class: 'p' }, p.period.slice(5) || p.period),
          h('span', { class: 's' }, t(`status.${st}`))));
        }))))),
    h('div', { class: 'pager' },
      years.indexOf(shown[shown.length - 1]) > 0 ? h('a', {
        href: `#/agreements/${enc(a.id)}?upto=${years[years.indexOf(
          shown[shown.length - 1]) - 1]}` }, t('agreement.earlier')) : null,
      upto !== last ? h('a', { href: `#/agreements/${enc(a.id)}` },
        t('agreement.latest')) : null));
}
