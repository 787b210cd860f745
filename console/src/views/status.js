// status: the operator's view of GET /metrics, as `shanhai status` shows
// it: uptime, the agreements in force with their hashes and load times and
// periods by status, commit groups, requests by route and status, and the
// witnesses' lag where configured. Refreshed every few seconds while shown.
import { get } from '../api.js';
import { h, clear, add } from '../dom.js';
import { t, formatCount, formatTime } from '../i18n.js';
import { parseMetrics, pick, one } from '../prom.js';

const REFRESH_MS = 5000;

function duration(sec) {
  const s = Math.floor(Number(sec));
  return t('status.duration', { d: Math.floor(s / 86400),
    h: Math.floor((s % 86400) / 3600), m: Math.floor((s % 3600) / 60), s: s % 60 });
}

const epoch = (v) => (v === null ? '—' : formatTime(new Date(Number(v) * 1000).toISOString()));

function build(m) {
  const agreements = pick(m, 'shanhai_agreement_loaded_timestamp_seconds');
  const periods = pick(m, 'shanhai_periods');
  const requests = pick(m, 'shanhai_http_requests_total')
    .sort((a, b) => a.labels.route.localeCompare(b.labels.route) ||
      a.labels.status.localeCompare(b.labels.status));
  const witness = m.filter((s) => /witness/.test(s.name));
  const count = (ag, st) => periods.find((p) => p.labels.agreement === ag &&
    p.labels.status === st)?.value ?? '0';
  const groups = one(m, 'shanhai_commit_group_reports_count');
  const greports = one(m, 'shanhai_commit_group_reports_sum');
  const gentries = one(m, 'shanhai_commit_group_entries_sum');
  return [
    h('dl', { class: 'facts wide', id: 'status-facts' },
      h('dt', {}, t('status.version')), h('dd', {},
        pick(m, 'shanhai_build_info')[0]?.labels.version ?? '—'),
      h('dt', {}, t('status.uptime')), h('dd', { id: 'uptime' },
        duration(one(m, 'shanhai_uptime_seconds') ?? 0)),
      h('dt', {}, t('status.started')), h('dd', {}, epoch(one(m, 'shanhai_start_time_seconds'))),
      h('dt', {}, t('status.config')), h('dd', {},
        epoch(one(m, 'shanhai_config_loaded_timestamp_seconds'))),
      h('dt', {}, t('status.ledger')), h('dd', {},
        formatCount(Number(one(m, 'shanhai_ledger_entries') ?? 0))),
      h('dt', {}, t('status.conns')), h('dd', {},
        `${one(m, 'shanhai_connections') ?? '—'} / ${one(m, 'shanhai_requests_in_flight') ?? '—'}`),
      h('dt', {}, t('status.groups')), h('dd', {}, groups === null ? '—' :
        t('status.groups.text', { n: formatCount(Number(groups)),
          reports: formatCount(Number(greports)), entries: formatCount(Number(gentries)) })),
      h('dt', {}, t('status.witness')), h('dd', { id: 'witness' }, witness.length ?
        witness.map((w) => `${w.name}${w.labels.witness ? ` (${w.labels.witness})` : ''} = ${w.value}`)
          .join('; ') : t('status.nowitness'))),
    h('h2', {}, t('status.agreements')),
    h('table', { class: 'grid', id: 'status-agreements' },
      h('thead', {}, h('tr', {}, ['status.col.agreement', 'status.col.sha256',
        'status.col.loaded', 'status.waiting', 'status.settled', 'status.disputed']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, agreements.map((a) => h('tr', { dataset: { agreement: a.labels.agreement } },
        h('td', {}, a.labels.agreement),
        h('td', { class: 'hash' }, a.labels.sha256),
        h('td', { class: 'time' }, epoch(a.value)),
        ['waiting', 'settled', 'disputed'].map((st) =>
          h('td', { class: 'num' }, count(a.labels.agreement, st))))))),
    h('h2', {}, t('status.requests')),
    h('table', { class: 'grid', id: 'status-requests' },
      h('thead', {}, h('tr', {}, ['status.col.route', 'status.col.method',
        'status.col.status', 'status.col.count'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, requests.map((r) => h('tr', {},
        h('td', {}, r.labels.route), h('td', {}, r.labels.method),
        h('td', { class: 'num' }, r.labels.status),
        h('td', { class: 'num' }, formatCount(Number(r.value))))))),
  ];
}

export async function render(el) {
  const load = async () => parseMetrics(await (await get('/metrics', 'text/plain')).text());
  const box = h('div', { id: 'status-box' }, build(await load()));
  const stamp = h('p', { class: 'hint', id: 'refreshed' },
    t('status.refreshed', { time: formatTime(new Date().toISOString()) }));
  add(el, h('div', { class: 'pagehead' }, h('h1', {}, t('status.title')),
    h('p', { class: 'lead' }, t('status.lead'))), stamp, box);
  const timer = setInterval(async () => {
    if (!el.isConnected) { clearInterval(timer); return; }
    try {
      const m = await load();
      add(clear(box), ...build(m));
      stamp.textContent = t('status.refreshed', { time: formatTime(new Date().toISOString()) });
    } catch (e) {
      stamp.textContent = t('status.stale', { detail: e.detail || String(e) });
    }
  }, REFRESH_MS);
}
