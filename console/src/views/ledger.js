// ledger: for auditors (and operators), the latest signed checkpoint, the
// witnessed one when witnesses exist, and the ledger's entries paged by
// index, filtered by agreement and entry type, each pretty-printed under
// its index.
import { get, getText, ApiError } from '../api.js';
import { h, clear, add } from '../dom.js';
import { t, formatCount, formatTime } from '../i18n.js';

const TYPES = ['rules', 'report', 'settlement', 'adjustment', 'dispute',
  'approval', 'key'];
const SIZES = [100, 1000];

async function witnessed() {
  try {
    return await getText('/v1/ledger/checkpoint/witnessed');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
    throw e;
  }
}

// The entries [start, start+n) that pass the filters, each under its
// index, pretty-printed. Rows off screen are not laid out until scrolled to
// (content-visibility), so a page of 1,000 shows at once.
export function entryTable(entries, start, filter) {
  const t0 = performance.now();
  const list = h('div', { class: 'entries', id: 'entries', role: 'table',
    'aria-label': t('ledger.title') },
  h('div', { class: 'erow ehead', role: 'row' }, ['ledger.col.index',
    'ledger.col.type', 'ledger.col.agreement', 'ledger.col.period',
    'ledger.col.time', 'ledger.col.entry'].map((k) =>
    h('span', { role: 'columnheader' }, t(k)))));
  let n = 0;
  entries.forEach((e, i) => {
    const agreement = e.agreement ?? e.report?.agreement;
    if (filter.agreement && agreement !== filter.agreement) return;
    if (filter.type && e.type !== filter.type) return;
    n++;
    list.append(h('div', { class: 'erow', role: 'row',
      dataset: { index: start + i, type: e.type } },
    h('span', { class: 'num idx', role: 'cell' }, String(start + i)),
    h('span', { role: 'cell' }, h('span', { class: `tag t-${e.type}` }, t(`type.${e.type}`))),
    h('span', { role: 'cell' }, agreement || '—'),
    h('span', { role: 'cell' }, e.period || e.report?.period || e.year || '—'),
    h('span', { class: 'time', role: 'cell' }, formatTime(e.time)),
    // A rules entry holds a whole file: folded until asked for.
    h('span', { role: 'cell' }, h('details', { open: e.type !== 'rules' },
      h('summary', {}, t('ledger.show')),
      h('pre', { class: 'json' }, JSON.stringify(e, null, 2))))));
  });
  list.dataset.rows = String(n);
  // Once on the page: the time to build, style and lay out the rows.
  const laid = () => {
    void list.getBoundingClientRect().height;
    list.dataset.renderMs = (performance.now() - t0).toFixed(1);
    return list.dataset.renderMs;
  };
  return { table: list, laid };
}

export async function render(el, ctx, params) {
  const q = params.query;
  const cp = await getText('/v1/ledger/checkpoint');
  const size = Number(cp.split('\n')[1]);
  const w = await witnessed();
  const per = SIZES.includes(Number(q.get('n'))) ? Number(q.get('n')) : 100;
  let start = q.has('start') ? Number(q.get('start')) :
    Math.max(0, Math.floor((size - 1) / per) * per);
  if (!Number.isInteger(start) || start < 0 || start >= size) start = 0;
  const end = Math.min(size, start + per);
  const filter = { agreement: q.get('agreement') || '', type: q.get('type') || '' };
  const res = await get(`/v1/ledger/entries?start=${start}&end=${end}`,
    'application/jsonl');
  const entries = (await res.text()).split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l));

  const link = (over) => {
    const p = new URLSearchParams({ start, n: per, ...filter, ...over });
    for (const [k, v] of [...p]) if (v === '') p.delete(k);
    return `#/ledger?${p}`;
  };
  const form = h('form', { class: 'filters', id: 'ledger-filters' },
    h('label', {}, t('ledger.agreement'), h('input', { name: 'agreement',
      value: filter.agreement, placeholder: t('ledger.any') })),
    h('label', {}, t('ledger.type'), h('select', { name: 'type' },
      h('option', { value: '' }, t('ledger.any')),
      TYPES.map((ty) => h('option', { value: ty, selected: ty === filter.type },
        t(`type.${ty}`))))),
    h('label', {}, t('ledger.perpage'), h('select', { name: 'n' },
      SIZES.map((n) => h('option', { value: n, selected: n === per }, String(n))))),
    h('label', {}, t('ledger.start'), h('input', { name: 'start', type: 'number',
      min: 0, max: Math.max(0, size - 1), value: start })),
    h('button', { type: 'submit' }, t('ledger.apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    location.hash = link({ agreement: f.agreement.value.trim(),
      type: f.type.value, n: f.n.value, start: f.start.value || 0 });
  });

  const { table, laid } = entryTable(entries, start, filter);
  const timing = h('span', { class: 'hint', id: 'render-ms' });
  add(el,
    h('div', { class: 'pagehead' }, h('h1', {}, t('ledger.title')),
      h('p', { class: 'lead' }, t('ledger.lead'))),
    h('div', { class: 'twocol' },
      h('section', {}, h('h2', {}, t('ledger.checkpoint')),
        h('pre', { class: 'note', id: 'checkpoint' }, cp),
        h('p', { class: 'hint' }, t('ledger.size', { n: formatCount(size) }))),
      h('section', {}, h('h2', {}, t('ledger.witnessed')),
        w ? h('pre', { class: 'note', id: 'witnessed' }, w) :
          h('p', { class: 'empty', id: 'witnessed' }, t('ledger.nowitness')),
        h('p', { class: 'hint' }, t('ledger.verifyhint'), ' ',
          h('a', { href: '#/verify' }, t('nav.verify'))))),
    h('h2', {}, t('ledger.entries', { from: formatCount(start),
      to: formatCount(Math.max(start, end - 1)), n: formatCount(size) })),
    form,
    h('div', { class: 'pager' },
      start > 0 ? h('a', { href: link({ start: Math.max(0, start - per) }),
        id: 'ledger-prev' }, t('ledger.prev')) : null,
      end < size ? h('a', { href: link({ start: end }), id: 'ledger-next' },
        t('ledger.next')) : null,
      timing),
    table);
  return () => {
    timing.textContent = t('ledger.rendered', { rows: table.dataset.rows, ms: laid() });
  };
}
