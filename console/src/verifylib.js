// verifylib: what an auditor checks in the page, with WebCrypto only:
// a C2SP signed note's Ed25519 signature against a verifier key
// ("name+hexid+base64(0x01 || key)"), and a receipt's C2SP tlog-proof
// (RFC 9162 inclusion of the report entry in the checkpoint's tree).
// Each check returns { ok, reason } where reason is a message key and its
// slots: a clear pass or a clear fail, never an exception.

const enc = new TextEncoder();

export function b64decode(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(u8) {
  return Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { buf.set(p, off); off += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// The verifier key line, or { error } naming what is wrong with it.
export function parseVkey(line) {
  const s = line.trim();
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(s);
  if (!m) return { error: 'vkey.form' };
  let raw;
  try { raw = b64decode(m[3]); } catch { return { error: 'vkey.base64' }; }
  if (raw.length !== 33 || raw[0] !== 0x01) return { error: 'vkey.notEd25519' };
  return { name: m[1], id: m[2], key: raw.slice(1) };
}

// A signed note: its body (text through the last newline before the blank
// line) and its signature lines.
export function parseNote(text) {
  const cut = text.indexOf('\n\n');
  if (cut < 0) return { error: 'note.form' };
  const body = text.slice(0, cut + 1);
  const sigs = [];
  for (const line of text.slice(cut + 2).split('\n')) {
    if (line === '') continue;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) return { error: 'note.sigline' };
    sigs.push({ name: m[1], b64: m[2] });
  }
  const lines = body.split('\n');
  return { body, sigs, origin: lines[0], size: lines[1], root: lines[2] };
}

// Does note text carry a valid Ed25519 signature by the key of vkey?
export async function verifyNote(text, vkeyLine) {
  const vk = parseVkey(vkeyLine);
  if (vk.error) return { ok: false, reason: vk.error };
  const note = parseNote(text);
  if (note.error) return { ok: false, reason: note.error };
  const id = await sha256(enc.encode(vk.name), new Uint8Array([0x0a, 0x01]), vk.key);
  if (hex(id.slice(0, 4)) !== vk.id) return { ok: false, reason: 'vkey.id' };
  const key = await crypto.subtle.importKey('raw', vk.key, { name: 'Ed25519' },
    false, ['verify']);
  for (const s of note.sigs) {
    if (s.name !== vk.name) continue;
    const raw = b64decode(s.b64);
    if (raw.length !== 68 || hex(raw.slice(0, 4)) !== vk.id) continue;
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key,
      raw.slice(4), enc.encode(note.body));
    return ok ? { ok: true, reason: 'sig.ok', note, size: note.size } :
      { ok: false, reason: 'sig.bad', note };
  }
  return { ok: false, reason: 'sig.none', note };
}

// RFC 9162 §2.1.3.2: does path prove leaf hash at index in a tree of size
// with this root?
export async function verifyInclusion(index, size, leaf, path, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1;
  let r = leaf;
  const one = new Uint8Array([1]);
  for (const p of path) {
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      r = await sha256(one, p, r);
      if ((fn & 1) === 0)
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// A receipt (the JSON a report's POST answered): its proof's entry is the
// report it names, the entry is in the checkpoint's tree, and the
// checkpoint is signed by vkey.
export async function verifyReceipt(receiptText, vkeyLine) {
  let rc;
  try { rc = JSON.parse(receiptText); } catch { return { ok: false, reason: 'rcpt.json' }; }
  if (!rc || typeof rc.proof !== 'string') return { ok: false, reason: 'rcpt.noproof' };
  const lines = rc.proof.split('\n');
  if (lines[0] !== 'c2sp.org/tlog-proof@v1') return { ok: false, reason: 'rcpt.header' };
  let i = 1, extra = null;
  if (lines[i]?.startsWith('extra ')) { extra = lines[i].slice(6); i++; }
  const im = /^index (\d+)$/.exec(lines[i] || '');
  if (!im || extra === null) return { ok: false, reason: 'rcpt.header' };
  const index = Number(im[1]);
  i++;
  const path = [];
  for (; i < lines.length && lines[i] !== ''; i++) {
    try { path.push(b64decode(lines[i])); } catch { return { ok: false, reason: 'rcpt.hash' }; }
    if (path[path.length - 1].length !== 32) return { ok: false, reason: 'rcpt.hash' };
  }
  const checkpoint = lines.slice(i + 1).join('\n');
  const sig = await verifyNote(checkpoint, vkeyLine);
  if (!sig.ok) return sig;
  let entry, entryText;
  try {
    const raw = b64decode(extra);
    entryText = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    entry = JSON.parse(entryText);
  } catch { return { ok: false, reason: 'rcpt.extra' }; }
  const name = rc.report ? 'report' : 'statement';
  if (entry.sha256 !== rc[name] && entry.statement !== rc[name])
    return { ok: false, reason: 'rcpt.names' };
  if (rc.index !== index) return { ok: false, reason: 'rcpt.index' };
  const size = Number(sig.note.size);
  let root;
  try { root = b64decode(sig.note.root); } catch { return { ok: false, reason: 'rcpt.root' }; }
  const leaf = await sha256(new Uint8Array([0]), enc.encode(entryText));
  const ok = await verifyInclusion(index, size, leaf, path, root);
  return ok ? { ok: true, reason: 'rcpt.ok', index, size, entry } :
    { ok: false, reason: 'rcpt.proof', index, size };
}
