// main: the console's frame (header, navigation, language switch) and the
// hash router that picks a view. Each view is a module with
// render(main, ctx, params) that fills main and returns when its data is
// shown.
import './style.css';
import { getJSON, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { t, getLang, setLang } from './i18n.js';

const views = {
  agreements: () => import('./views/agreements.js'),
  agreement: () => import('./views/agreement.js'),
  period: () => import('./views/period.js'),
  statement: () => import('./views/statement.js'),
  ledger: () => import('./views/ledger.js'),
  verify: () => import('./views/verify.js'),
  status: () => import('./views/status.js'),
};

// Routes: pattern -> view and the roles that have it in their navigation.
const routes = [
  [/^\/agreements$/, 'agreements'],
  [/^\/agreements\/([^/]+)$/, 'agreement', ['id']],
  [/^\/agreements\/([^/]+)\/periods\/([^/]+)$/, 'period', ['id', 'period']],
  [/^\/agreements\/([^/]+)\/years\/(\d{4})$/, 'statement', ['id', 'year']],
  [/^\/ledger$/, 'ledger'],
  [/^\/verify$/, 'verify'],
  [/^\/status$/, 'status'],
];

const nav = {
  bureau: [['#/agreements', 'nav.agreements']],
  auditor: [['#/ledger', 'nav.ledger'], ['#/verify', 'nav.verify'],
    ['#/agreements', 'nav.agreements']],
  operator: [['#/status', 'nav.status'], ['#/agreements', 'nav.agreements']],
};
const home = { bureau: '#/agreements', auditor: '#/ledger',
  operator: '#/status' };

const ctx = { me: null, agreements: null };
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

function frame() {
  const root = document.getElementById('app');
  clear(root);
  const me = ctx.me;
  const langBtn = h('button', { type: 'button', class: 'lang', id: 'lang',
    onclick: () => { setLang(getLang() === 'en' ? 'zh-CN' : 'en'); frame();
      route(); } }, t('lang.switch'));
  root.append(
    h('header', { class: 'top' },
      h('div', { class: 'brand' },
        h('span', { class: 'emblem', 'aria-hidden': 'true' }, '山海'),
        h('div', {},
          h('div', { class: 'title' }, t('app.title')),
          h('div', { class: 'subtitle' }, t('app.subtitle')))),
      h('div', { class: 'who', id: 'who' },
        h('span', { class: 'role' }, t(`role.${me.role}`)),
        h('span', { class: 'name' }, me.name),
        me.codes.length ? h('span', { class: 'codes' }, me.codes.join(' ')) : null,
        langBtn)),
    h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      (nav[me.role] || []).map(([href, key]) =>
        h('a', { href, dataset: { nav: href } }, t(key)))),
    h('main', { id: 'main', tabindex: '-1' }),
    h('footer', { class: 'foot' }, t('app.footer')));
  document.title = t('app.title');
}

async function route() {
  const seq = ++renderSeq;
  const { path, query } = parseHash();
  if (path === '/' || path === '') {
    location.replace(home[ctx.me.role] || '#/agreements');
    return;
  }
  for (const a of document.querySelectorAll('nav.nav a')) {
    const on = path.startsWith(a.dataset.nav.slice(1));
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  main.setAttribute('aria-busy', 'true');
  for (const [re, name, keys = []] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    const params = { query };
    keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
    try {
      const view = await views[name]();
      if (seq !== renderSeq) return;
      const fresh = h('div', { class: 'view', id: `view-${name}` });
      const mounted = await view.render(fresh, ctx, params);
      if (seq !== renderSeq) return;
      clear(main).append(fresh);
      if (typeof mounted === 'function') await mounted();
      main.dataset.view = name;
    } catch (e) {
      if (seq !== renderSeq) return;
      clear(main).append(failure(e));
    }
    main.setAttribute('aria-busy', 'false');
    return;
  }
  clear(main).append(failure(new ApiError(404, `path: ${path}`)));
  main.setAttribute('aria-busy', 'false');
}

// A view that could not be shown: not found, refused, or broken.
export function failure(e) {
  if (e instanceof ApiError && e.status === 404)
    return h('section', { class: 'notfound', role: 'alert' },
      h('h1', {}, t('err.notfound.title')), h('p', {}, t('err.notfound.text')),
      h('p', { class: 'detail' }, e.detail));
  return h('section', { class: 'error', role: 'alert' },
    h('h1', {}, t('err.view.title')),
    h('p', { class: 'detail' }, e instanceof ApiError ?
      t('err.api', { status: e.status, detail: e.detail }) : String(e)));
}

async function boot() {
  document.documentElement.lang = getLang();
  try {
    ctx.me = await getJSON('/v1/whoami');
  } catch (e) {
    const root = clear(document.getElementById('app'));
    root.append(failure(e));
    return;
  }
  frame();
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = '1';
}

boot();
