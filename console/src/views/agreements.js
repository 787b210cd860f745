// agreements: the agreements this client sees (a bureau: those it is a
// side of), with both sides' names, cadence, dates and the terms.
import { getJSON } from '../api.js';
import { h, add } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { sideName } from '../codes.js';
import { sidesOf } from '../periods.js';

export async function loadAgreements(ctx) {
  const { agreements } = await getJSON('/v1/agreements');
  ctx.agreements = agreements;
  return agreements;
}

export async function render(el, ctx) {
  const list = await loadAgreements(ctx);
  const lang = getLang();
  add(el,
    h('div', { class: 'pagehead' },
      h('h1', {}, t('agreements.title')),
      h('p', { class: 'lead' }, t(`agreements.lead.${ctx.me.role}`))),
    list.length === 0 ? h('p', { class: 'empty' }, t('agreements.none')) :
    h('table', { class: 'grid', id: 'agreements' },
      h('thead', {}, h('tr', {},
        ['agreements.col.id', 'agreements.col.title', 'agreements.col.home',
          'agreements.col.host', 'agreements.col.cadence',
          'agreements.col.span', 'agreements.col.mine']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((a) => h('tr', { dataset: { agreement: a.id } },
        h('td', {}, h('a', { href: `#/agreements/${encodeURIComponent(a.id)}` },
          a.id)),
        h('td', {}, a.title),
        h('td', {}, sideName(a, 'home', lang), h('span', { class: 'code' }, a.home)),
        h('td', {}, sideName(a, 'host', lang), h('span', { class: 'code' }, a.host)),
        h('td', {}, t(`cadence.${a.cadence}`),
          a.confirm ? h('span', { class: 'tag' }, t('agreements.confirm')) : null),
        h('td', { class: 'num' }, `${a.start} – ${a.end}`),
        h('td', {}, sidesOf(ctx.me, a).map((s) => t(`side.${s}`)).join('、') ||
          '—'))))));
}
