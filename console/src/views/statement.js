// statement: a year's statement of an agreement (settlement plus
// adjustments per period, the totals), a chart of each side's share per
// period with the home side's cumulative share against the term's floor
// and cap, the documents (PDF, XLSX, CSV), and for a bureau the approval
// of the statement's hash with both sides' approvals.
import { getJSON, get, postJSON, enc, ApiError } from '../api.js';
import { h, clear, add, download } from '../dom.js';
import { t, getLang, periodName, formatTime } from '../i18n.js';
import { formatAmount, toFen, fromFen, plotValue } from '../money.js';
import { sideName } from '../codes.js';
import { sidesOf, termOf, periodsOf } from '../periods.js';
import { findAgreement } from './agreement.js';

const DOCS = [
  ['pdf', 'application/pdf'],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['csv', 'text/csv'],
];

function table(st) {
  const cols = ['base', 'home', 'host', 'floor_topup'];
  return h('table', { class: 'grid statement', id: 'statement-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, t('stmt.col.period')),
      h('th', { scope: 'col' }, t('stmt.col.term')),
      cols.map((c) => h('th', { scope: 'col', class: 'num' }, t(`fig.${c}`))))),
    h('tbody', {}, st.periods.map((p) => h('tr', {},
      h('td', {}, periodName(p.period)), h('td', {}, p.term),
      cols.map((c) => h('td', { class: 'num' }, formatAmount(p[c])))))),
    h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row', colspan: 2 }, t('stmt.total')),
      cols.map((c) => h('td', { class: 'num', dataset: { total: c } },
        formatAmount(st.total[c]))))));
}

async function chart(box, a, st, year) {
  const { draw } = await import('../chart.js');
  let cum = 0n;
  const cumulative = st.periods.map((p) => {
    cum += toFen(p.home);
    return fromFen(cum);
  });
  const term = termOf(a, st.periods[st.periods.length - 1].period);
  const marks = [];
  if (term?.floor) marks.push({ name: t('chart.floor'), yAxis: plotValue(term.floor),
    label: { formatter: `${t('chart.floor')} ${formatAmount(term.floor)}` } });
  if (term?.cap) marks.push({ name: t('chart.cap'), yAxis: plotValue(term.cap),
    label: { formatter: `${t('chart.cap')} ${formatAmount(term.cap)}` } });
  const periods = st.periods.map((p) => p.period);
  const byIndex = (series, i) => series === 2 ? cumulative[i] :
    st.periods[i][series === 0 ? 'home' : 'host'];
  draw(box, {
    animation: false,
    textStyle: { fontFamily: 'inherit' },
    color: ['#1f4e8c', '#9aa9bd', '#b8322a'],
    legend: { top: 0, data: [t('chart.home'), t('chart.host'), t('chart.cumulative')] },
    grid: { left: 72, right: 96, top: 36, bottom: 28 },
    tooltip: { trigger: 'axis', renderMode: 'richText',
      formatter: (items) => [periodName(periods[items[0].dataIndex]),
        ...items.map((it) => `${it.seriesName}: ${formatAmount(
          byIndex(it.seriesIndex, it.dataIndex))} ${t('unit.yuan')}`)].join('\n') },
    xAxis: { type: 'category', data: periods.map((p) => p.slice(5) || p) },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => t('chart.axis', {
      wan: new Intl.NumberFormat('zh-CN').format(v / 10000),
      k: new Intl.NumberFormat('en-US').format(v / 1000) }) } },
    series: [
      { name: t('chart.home'), type: 'bar', data: st.periods.map((p) => plotValue(p.home)) },
      { name: t('chart.host'), type: 'bar', data: st.periods.map((p) => plotValue(p.host)) },
      { name: t('chart.cumulative'), type: 'line', step: false, symbolSize: 5,
        data: cumulative.map(plotValue),
        markLine: marks.length ? { symbol: 'none', lineStyle: { type: 'dashed' },
          data: marks } : undefined },
    ],
  });
  box.dataset.year = year;
}

async function fetchDoc(url, kind, type, out, name) {
  out.textContent = t('doc.fetching', { kind: kind.toUpperCase() });
  out.className = 'docmsg';
  try {
    const res = await get(`${url}?format=${kind}`, type);
    const got = (res.headers.get('Content-Type') || '').split(';')[0].trim();
    if (got !== type) {
      await res.arrayBuffer();
      throw new Error(t('doc.wrongtype', { got: got || '—', want: type }));
    }
    download(`${name}.${kind}`, await res.blob(), type);
    out.textContent = t('doc.saved', { name: `${name}.${kind}` });
  } catch (e) {
    out.className = 'docmsg bad';
    out.textContent = t('doc.failed', { kind: kind.toUpperCase(),
      detail: e instanceof ApiError ? `${e.status} ${e.detail}` : e.message });
  }
}

function approvals(s) {
  return h('table', { class: 'grid approvals', id: 'approvals' },
    h('thead', {}, h('tr', {}, ['appr.side', 'appr.state', 'appr.index',
      'appr.time'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, ['host', 'home'].map((side) => {
      const ap = s.approvals[side];
      const state = !ap ? 'none' : ap.statement === s.sha256 ? 'this' : 'earlier';
      return h('tr', { dataset: { side, state } },
        h('th', { scope: 'row' }, t(`side.${side}`)),
        h('td', {}, t(`appr.${state}`)),
        h('td', {}, ap ? String(ap.index) : '—'),
        h('td', {}, ap ? formatTime(ap.time) : '—'));
    })));
}

export async function render(el, ctx, params) {
  const a = await findAgreement(params.id);
  const url = `/v1/agreements/${enc(a.id)}/years/${enc(params.year)}/statement`;
  const s = await getJSON(url);
  const lang = getLang();
  const mine = sidesOf(ctx.me, a);
  const docmsg = h('p', { class: 'docmsg', id: 'doc-msg', role: 'status' });
  const approveBox = h('div', { class: 'approve', id: 'approve' });
  const chartBox = h('div', { class: 'chart', id: 'chart', role: 'img',
    'aria-label': t('chart.label', { year: params.year }) });

  const fillApprove = (st) => {
    clear(approveBox);
    add(approveBox, h('h2', {}, t('appr.title')), approvals(st));
    if (!mine.length || !st.sha256) return;
    if (mine.every((r) => st.approvals[r]?.statement === st.sha256)) {
      add(approveBox, h('p', { class: 'ok', id: 'approve-done' }, t('appr.done')),
        h('p', { class: 'hash', id: 'approve-hash' }, st.sha256));
      return;
    }
    const check = h('input', { type: 'checkbox', id: 'approve-check' });
    const out = h('p', { class: 'formerr', role: 'alert', hidden: true });
    const roleSel = mine.length > 1 ? h('select', { id: 'approve-role' },
      mine.map((r) => h('option', { value: r }, t(`side.${r}`)))) : null;
    const btn = h('button', { type: 'button', class: 'primary',
      id: 'approve-button', disabled: true, onclick: async () => {
        btn.disabled = true;
        out.hidden = true;
        const body = { statement: st.sha256 };
        if (roleSel) body.role = roleSel.value;
        try {
          await postJSON(`/v1/agreements/${enc(a.id)}/years/${enc(params.year)}/approvals`,
            JSON.stringify(body));
          const now = await getJSON(url);
          add(clear(statusBox), statusLine(now));
          fillApprove(now);
        } catch (e) {
          out.hidden = false;
          out.textContent = e instanceof ApiError ?
            t('err.api', { status: e.status, detail: e.detail }) : String(e);
          btn.disabled = false;
        }
      } }, t('appr.button'));
    check.addEventListener('change', () => { btn.disabled = !check.checked; });
    add(approveBox,
      h('p', { class: 'hint' }, t('appr.what')),
      h('p', { class: 'hash', id: 'approve-hash' }, st.sha256),
      h('label', { class: 'check' }, check, t('appr.checked')),
      roleSel, btn, out);
  };

  const statusLine = (st) => h('div', { class: 'statusline' },
    h('span', { class: `badge yr-${st.status}`, id: 'year-status',
      dataset: { status: st.status } }, t(`year.${st.status}`)),
    st.sha256 ? h('span', {}, t('stmt.hash'), ' ', h('code', { class: 'hash' },
      st.sha256)) : null);
  const statusBox = h('div', {}, statusLine(s));
  fillApprove(s);

  const name = `statement-${a.id}-${params.year}`;
  add(el,
    h('div', { class: 'pagehead' },
      h('p', { class: 'crumbs' },
        h('a', { href: '#/agreements' }, t('nav.agreements')), ' / ',
        h('a', { href: `#/agreements/${enc(a.id)}?upto=${params.year}` }, a.id),
        ' / ', params.year),
      h('h1', {}, t('stmt.title', { year: params.year, title: a.title })),
      h('p', { class: 'lead' }, t('stmt.sides', {
        home: sideName(a, 'home', lang), host: sideName(a, 'host', lang) }))),
    statusBox,
    s.statement ? [
      chartBox,
      table(s.statement),
      h('section', { class: 'docs' }, h('h2', {}, t('doc.title')),
        h('div', { class: 'actions' }, DOCS.map(([kind, type]) =>
          h('button', { type: 'button', id: `doc-${kind}`,
            onclick: () => fetchDoc(url, kind, type, docmsg, name) },
          t('doc.download', { kind: kind.toUpperCase() })))),
        docmsg)] :
      h('p', { class: 'empty', id: 'incomplete' }, t('stmt.incomplete', {
        n: periodsOf(a, params.year).length })),
    approveBox);
  // Drawn once on the page, where the box has its size.
  return s.statement ? () => chart(chartBox, a, s.statement, params.year) : null;
}
