// period: one period's status and figures in force; for a bureau of a
// side, the report form made from the agreement's declared taxes and
// statistics (or a JSON file), and once the side has reported, the
// correction form prefilled from its latest report with supersedes set;
// the receipt shown and offered for download.
import { getJSON, postJSON, enc, ApiError } from '../api.js';
import { h, clear, add, download } from '../dom.js';
import { t, periodName, formatTime } from '../i18n.js';
import { amountProblem, formatAmount } from '../money.js';
import { reportSidesOf } from '../periods.js';
import { findAgreement, statusOf } from './agreement.js';

const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function figuresTable(f) {
  if (!f) return h('p', { class: 'empty' }, t('period.nofigures'));
  const rows = [
    ['fig.base', f.base], ['fig.home', f.home], ['fig.host', f.host],
    ['fig.floor_topup', f.floor_topup]];
  for (const [b, v] of Object.entries(f.beneficiaries || {}))
    rows.push([null, v, t('fig.beneficiary', { id: b })]);
  return h('table', { class: 'grid figures', id: 'figures' },
    h('tbody', {}, rows.map(([k, v, label]) => h('tr', {},
      h('th', { scope: 'row' }, label || t(k)),
      h('td', { class: 'num' }, formatAmount(v)))),
    Object.entries(f.statistics || {}).map(([code, s]) => h('tr', {},
      h('th', { scope: 'row' }, t('fig.statistic', { code })),
      h('td', { class: 'num' }, `${t('side.home')} ${formatAmount(s.home)} · ` +
        `${t('side.host')} ${formatAmount(s.host)}`)))));
}

// The report the form describes, or null with every problem marked.
function collect(form, a, side, supersedes) {
  let ok = true;
  const mark = (name, key) => {
    const input = form.elements[name];
    const msg = form.querySelector(`[data-error-for="${name}"]`);
    if (msg) msg.textContent = key ? t(key) : '';
    if (input) input.setAttribute('aria-invalid', key ? 'true' : 'false');
    if (key) ok = false;
  };
  const rid = form.elements.report_id.value.trim();
  mark('report_id', REPORT_ID.test(rid) ? null : 'err.report_id');
  const amount = (name, required) => {
    const v = form.elements[name].value.trim();
    if (v === '' && !required) { mark(name, null); return undefined; }
    const p = amountProblem(v);
    mark(name, p);
    return v;
  };
  const report = { report_id: rid, agreement: a.id,
    period: form.dataset.period, role: side, taxes: {} };
  if (supersedes) report.supersedes = supersedes;
  for (const tx of a.taxes) {
    const v = amount(`taxes.${tx.code}`, true);
    report.taxes[tx.code] = v;
  }
  const d = amount('deductions', false);
  if (d !== undefined) report.deductions = d;
  if (a.statistics?.length) {
    report.statistics = {};
    for (const st of a.statistics) {
      const v = amount(`statistics.${st.code}`, false);
      if (v !== undefined) report.statistics[st.code] = v;
    }
  }
  return ok ? report : null;
}

function field(name, label, value, hint) {
  const id = `f-${name.replace(/\./g, '-')}`;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('div', { class: 'input' },
      h('input', { id, name, value: value ?? '', autocomplete: 'off',
        inputmode: name === 'report_id' ? 'text' : 'decimal',
        class: name === 'report_id' ? '' : 'amount',
        'aria-describedby': `${id}-err` }),
      name === 'report_id' ? null : h('span', { class: 'unit' }, t('unit.yuan'))),
    h('div', { class: 'fielderr', id: `${id}-err`, role: 'status',
      dataset: { errorFor: name } }),
    hint ? h('div', { class: 'hint' }, hint) : null);
}

// Shows the server's refusal next to the field its detail names.
function showRefusal(form, e) {
  const out = form.querySelector('.formerr');
  let placed = false;
  if (e instanceof ApiError && e.field) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(e.field)}"]`);
    if (slot) {
      slot.textContent = e.detail;
      form.elements[e.field]?.setAttribute('aria-invalid', 'true');
      form.elements[e.field]?.focus();
      placed = true;
    }
  }
  out.textContent = e instanceof ApiError ?
    t('err.api', { status: e.status, detail: e.detail }) : String(e);
  out.hidden = false;
  out.dataset.placed = placed ? '1' : '0';
}

function receiptView(receipt, status) {
  const name = `receipt-${receipt.report || receipt.statement}.json`;
  return h('section', { class: 'receipt', id: 'receipt', role: 'status' },
    h('h2', {}, status === 201 ? t('receipt.new') : t('receipt.again')),
    h('dl', { class: 'facts' },
      h('dt', {}, t('receipt.report')), h('dd', { class: 'hash' }, receipt.report),
      h('dt', {}, t('receipt.index')), h('dd', {}, String(receipt.index)),
      h('dt', {}, t('receipt.entries')), h('dd', {}, receipt.entries.join(', ')),
      h('dt', {}, t('receipt.status')), h('dd', { id: 'receipt-status' },
        t(`status.${receipt.status}`))),
    h('button', { type: 'button', id: 'receipt-download',
      onclick: () => download(name, JSON.stringify(receipt) + '\n',
        'application/json') }, t('receipt.download')),
    h('p', { class: 'hint' }, t('receipt.hint')));
}

function reportForm(a, period, side, latest, onDone) {
  const prev = latest?.report;
  const supersedes = prev?.report_id;
  const m = prev ? /^(.*)-r(\d+)$/.exec(prev.report_id) : null;
  const suggested = !prev ? `${side}-${period}` :
    m ? `${m[1]}-r${Number(m[2]) + 1}` : `${prev.report_id}-r1`;
  const form = h('form', { class: 'report', id: 'report-form', novalidate: true,
    dataset: { period } },
  h('h2', {}, prev ? t('form.correction') : t('form.new')),
  prev ? h('p', { class: 'hint', id: 'supersedes' },
    t('form.supersedes', { id: prev.report_id, time: formatTime(latest.time) })) : null,
  h('fieldset', {}, h('legend', {}, t('form.ident')),
    field('report_id', t('form.report_id'), suggested, t('form.report_id.hint'))),
  h('fieldset', {}, h('legend', {}, t('form.taxes')),
    a.taxes.map((tx) => field(`taxes.${tx.code}`,
      t('form.tax', { code: tx.code, retain: tx.retain }),
      prev?.taxes?.[tx.code]))),
  h('fieldset', {}, h('legend', {}, t('form.other')),
    field('deductions', t('form.deductions'), prev?.deductions, t('form.optional')),
    (a.statistics || []).map((st) => field(`statistics.${st.code}`,
      t('form.statistic', { code: st.code }), prev?.statistics?.[st.code],
      t('form.optional')))),
  h('p', { class: 'formerr', role: 'alert', hidden: true }),
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary', id: 'report-submit' },
      prev ? t('form.submit.correction') : t('form.submit')),
    h('label', { class: 'upload' }, t('form.upload'),
      h('input', { type: 'file', accept: 'application/json,.json',
        id: 'report-file', onchange: (ev) => upload(ev, form, onDone) }))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    form.querySelector('.formerr').hidden = true;
    const report = collect(form, a, side, supersedes);
    if (!report) {
      form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    await send(form, JSON.stringify(report), onDone);
  });
  return form;
}

async function send(form, body, onDone) {
  const btn = form.querySelector('#report-submit');
  btn.disabled = true;
  try {
    const { status, json } = await postJSON('/v1/reports', body);
    await onDone(json, status);
  } catch (e) {
    showRefusal(form, e);
  } finally {
    btn.disabled = false;
  }
}

async function upload(ev, form, onDone) {
  const file = ev.target.files[0];
  if (!file) return;
  const text = await file.text();
  try {
    JSON.parse(text);
  } catch (e) {
    showRefusal(form, new Error(t('err.upload.json', { name: file.name })));
    return;
  }
  await send(form, text, onDone);
}

export async function render(el, ctx, params) {
  const a = await findAgreement(params.id);
  const base = `/v1/agreements/${enc(a.id)}/periods/${enc(params.period)}`;
  const p = await getJSON(base);
  const sides = reportSidesOf(ctx.me, a);
  const latest = {};
  for (const s of sides)
    if (p[`${s}_report`])
      latest[s] = await getJSON(`${base}/reports/${s}`);

  const statusBox = h('div', { class: 'statusline' });
  const figures = h('div', { class: 'figbox' });
  const showState = (st) => {
    const s = statusOf(st, a);
    add(clear(statusBox),
      h('span', { class: `badge st-${s}`, id: 'period-status', dataset: { status: s } },
        t(`status.${s}`)),
      h('span', {}, t('period.term', { term: st.term || '—' })),
      h('span', {}, t('period.entries', { list: st.entries.join(', ') || '—' })));
    add(clear(figures), figuresTable(st.figures));
  };
  showState(p);
  const formBox = h('div', { class: 'formbox' });
  const receiptBox = h('div', { class: 'receiptbox' });
  const year = params.period.slice(0, 4);

  const showForm = (side, last) => {
    add(clear(formBox), reportForm(a, params.period, side, last,
      async (receipt, status) => {
        add(clear(receiptBox), receiptView(receipt, status));
        const now = await getJSON(base);
        showState(now);
        const fresh = await getJSON(`${base}/reports/${side}`);
        showForm(side, fresh);
        receiptBox.querySelector('h2').focus?.();
      }));
  };
  if (sides.length) showForm(sides[0], latest[sides[0]]);

  add(el,
    h('div', { class: 'pagehead' },
      h('p', { class: 'crumbs' },
        h('a', { href: '#/agreements' }, t('nav.agreements')), ' / ',
        h('a', { href: `#/agreements/${enc(a.id)}` }, a.id), ' / ',
        h('a', { href: `#/agreements/${enc(a.id)}/years/${year}` }, year), ' / ',
        params.period),
      h('h1', {}, t('period.title', { period: periodName(params.period),
        title: a.title }))),
    statusBox,
    h('div', { class: 'twocol' },
      h('section', {}, h('h2', {}, t('period.figures')), figures),
      h('section', {},
        sides.length > 1 ? h('div', { class: 'sidepick' },
          sides.map((s) => h('button', { type: 'button',
            onclick: () => showForm(s, latest[s]) }, t(`side.${s}`)))) : null,
        sides.length ? formBox : h('p', { class: 'hint' }, t('period.readonly')),
        receiptBox)));
}
