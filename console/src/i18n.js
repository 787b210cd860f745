// i18n: one message table per language, zh-CN first; the choice is kept in
// localStorage. Messages are whole sentences with {named} slots, never
// glued together from pieces.
import zh from './messages/zh-CN.js';
import en from './messages/en.js';

const tables = { 'zh-CN': zh, en };
const KEY = 'shanhai.lang';
let lang = 'zh-CN';
try {
  const saved = localStorage.getItem(KEY);
  if (saved && tables[saved]) lang = saved;
} catch { /* storage off: zh-CN */ }

export function getLang() { return lang; }

export function setLang(l) {
  if (!tables[l]) return;
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* not kept */ }
  document.documentElement.lang = l;
}

export function t(key, vars) {
  let s = tables[lang][key] ?? zh[key];
  if (s === undefined) {
    console.warn(`no message ${key}`);
    return key;
  }
  // A slot left unfilled is a fault of the page: logged as an error, which
  // the browser test counts.
  s = s.replace(/\{(\w+)\}/g, (m, k) => {
    if (vars && k in vars) return vars[k];
    console.error(`message ${key}: no value for {${k}}`);
    return m;
  });
  return s;
}

// "2026-12-06T11:28:07Z" in Beijing time, as zh-CN or en writes it.
export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return timeFormat().format(d);
}

// One formatter per language: making one costs more than using it.
const timeFormats = {};
function timeFormat() {
  return (timeFormats[lang] ??= new Intl.DateTimeFormat(
    lang === 'en' ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', second: '2-digit', hour12: false }));
}

// Integers (counts, indexes) with separators.
export function formatCount(n) {
  return new Intl.NumberFormat(lang === 'en' ? 'en-US' : 'zh-CN')
    .format(n);
}

// A period's name: "2026-03" -> "2026年3月", "2026-Q2" -> "2026年第2季度".
export function periodName(p) {
  let m;
  if ((m = /^(\d{4})-(\d{2})$/.exec(p)))
    return t('period.month', { y: m[1], m: String(Number(m[2])) });
  if ((m = /^(\d{4})-Q(\d)$/.exec(p)))
    return t('period.quarter', { y: m[1], q: m[2] });
  if ((m = /^(\d{4})$/.exec(p))) return t('period.year', { y: m[1] });
  return p;
}
