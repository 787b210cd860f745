// verify: the auditor's checks in the page, against a verifier key the
// auditor pastes: the latest checkpoint's Ed25519 signature, and a
// receipt's inclusion proof. The full replay is `shanhai verify`.
import { getText } from '../api.js';
import { h, clear, add } from '../dom.js';
import { t } from '../i18n.js';
import { verifyNote, verifyReceipt } from '../verifylib.js';

const KEY = 'shanhai.vkey';

function verdict(out, r, extra) {
  add(clear(out), h('strong', {}, r.ok ? t('verify.pass') : t('verify.fail')),
    ' ', t(`verify.${r.reason}`, extra || r));
  out.className = `verdict ${r.ok ? 'pass' : 'fail'}`;
  out.dataset.result = r.ok ? 'pass' : 'fail';
}

export async function render(el) {
  let saved = '';
  try { saved = localStorage.getItem(KEY) || ''; } catch { /* none */ }
  const vkey = h('textarea', { id: 'vkey', rows: 2, spellcheck: false,
    placeholder: 'test.example/shanhai+1a2b3c4d+AX…' }, saved);
  const cpOut = h('p', { class: 'verdict', id: 'checkpoint-result', role: 'status' });
  const rcOut = h('p', { class: 'verdict', id: 'receipt-result', role: 'status' });
  const cpText = h('pre', { class: 'note', id: 'checkpoint' });
  const file = h('input', { type: 'file', id: 'receipt-file',
    accept: 'application/json,.json' });
  const keep = () => { try { localStorage.setItem(KEY, vkey.value.trim()); } catch { /* */ } };

  const checkCheckpoint = async () => {
    keep();
    const cp = await getText('/v1/ledger/checkpoint');
    cpText.textContent = cp;
    verdict(cpOut, await verifyNote(cp, vkey.value));
  };
  const checkReceipt = async () => {
    keep();
    const f = file.files[0];
    if (!f) { verdict(rcOut, { ok: false, reason: 'rcpt.nofile' }); return; }
    const r = await verifyReceipt(await f.text(), vkey.value);
    verdict(rcOut, r, { ...r, name: f.name });
  };

  add(el,
    h('div', { class: 'pagehead' }, h('h1', {}, t('verify.title')),
      h('p', { class: 'lead' }, t('verify.lead'))),
    h('section', {}, h('h2', {}, h('label', { for: 'vkey' }, t('verify.vkey'))),
      vkey, h('p', { class: 'hint' }, t('verify.vkeyhint'))),
    h('div', { class: 'twocol' },
      h('section', {}, h('h2', {}, t('verify.checkpoint')),
        h('button', { type: 'button', class: 'primary', id: 'verify-checkpoint',
          onclick: checkCheckpoint }, t('verify.checkpoint.button')),
        cpOut, cpText),
      h('section', {}, h('h2', {}, t('verify.receipt')),
        h('label', { class: 'upload' }, t('verify.receipt.file'), file),
        h('button', { type: 'button', class: 'primary', id: 'verify-receipt',
          onclick: checkReceipt }, t('verify.receipt.button')),
        rcOut)),
    h('section', { class: 'replay' }, h('h2', {}, t('verify.replay')),
      h('p', {}, t('verify.replay.text')),
      h('pre', { class: 'cmd' },
        'shanhai verify --vkey ledger.vkey --checkpoint checkpoint --entries entries.jsonl\n' +
        'shanhai verify --vkey ledger.vkey --receipt receipt.json'),
      h('p', { class: 'hint' }, t('verify.replay.man'))));
}
