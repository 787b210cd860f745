// Unit tests of the console's pure modules under node --test, table-driven:
// amounts (checked and formatted from strings, as shanhai-api(7) defines
// them) and the auditor's checks (verifylib) against receipts that
// `shanhai fixture` signed for every report entry at several tree sizes.
//
//   FIXTURES=DIR VKEY=FILE node --test units.test.mjs
// (DIR holds receipt-<index>-<size>.json; tests/it/console.sh makes them.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { amountProblem, formatAmount, toFen, fromFen } from '../src/money.js';
import { verifyNote, verifyReceipt, parseVkey } from '../src/verifylib.js';

test('amounts the daemon takes', () => {
  for (const s of ['0', '-0', '0.00', '1234.5', '1234.56', '-12.3', '0.01',
    '9999999999999.99', '-9999999999999.99', '1000000000000'])
    assert.equal(amountProblem(s), null, s);
});

test('amounts refused, with the reason', () => {
  const t = [
    ['', 'err.amount.empty'], [' 1', 'err.amount.space'], ['1 ', 'err.amount.space'],
    ['1,234.50', 'err.amount.comma'], ['1，234', 'err.amount.comma'],
    ['1.234', 'err.amount.decimals'], ['10000000000000', 'err.amount.digits'],
    ['01', 'err.amount.form'], ['1.', 'err.amount.form'], ['.5', 'err.amount.form'],
    ['+1', 'err.amount.form'], ['1e3', 'err.amount.form'], ['NaN', 'err.amount.form'],
    ['--1', 'err.amount.form'], ['0x10', 'err.amount.form'], ['١', 'err.amount.form'],
  ];
  for (const [s, why] of t) assert.equal(amountProblem(s), why, JSON.stringify(s));
});

test('amounts formatted from their strings', () => {
  const t = [
    ['0', '0.00'], ['-0', '0.00'], ['-0.00', '0.00'], ['1234.5', '1,234.50'],
    ['1234567.89', '1,234,567.89'], ['-1234567.8', '-1,234,567.80'],
    ['999', '999.00'], ['1000', '1,000.00'], ['9999999999999.99', '9,999,999,999,999.99'],
    ['0.1', '0.10'], [null, '—'], ['oops', 'oops'],
  ];
  for (const [s, want] of t) assert.equal(formatAmount(s), want, String(s));
});

test('fen exactly, where floating point is not', () => {
  for (const s of ['0.00', '1.05', '-1.05', '0.29', '9999999999999.99', '-9999999999999.99'])
    assert.equal(fromFen(toFen(s)), s);
  // 0.29 * 100 is 28.999999999999996 in binary floating point.
  assert.equal(toFen('0.29'), 29n);
  assert.equal(fromFen(toFen('0.1') + toFen('0.2')), '0.30');
  assert.equal(toFen('9999999999999.99') + toFen('0.01'), 1000000000000000n);
});

const dir = process.env.FIXTURES;
const vkey = process.env.VKEY ? readFileSync(process.env.VKEY, 'utf8').trim() : null;

test('verifier keys', { skip: !vkey }, () => {
  assert.ok(parseVkey(vkey).key);
  for (const [s, why] of [['', 'vkey.form'], ['a+1234abcd+!!', 'vkey.form'],
    ['a+1234abcd+AAAA', 'vkey.notEd25519']])
    assert.equal(parseVkey(s).error, why, s);
});

test('every fixture receipt passes; each kind of tampering fails', { skip: !dir }, async () => {
  const files = readdirSync(dir).filter((f) => /^receipt-\d+-\d+\.json$/.test(f));
  assert.ok(files.length >= 10, `${files.length} receipts`);
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    const ok = await verifyReceipt(text, vkey);
    assert.equal(ok.reason, 'rcpt.ok', f);
    const rc = JSON.parse(text);
    const lines = rc.proof.split('\n');
    const hashAt = lines.findIndex((l, i) => i > 2 && /^[A-Za-z0-9+/]{43}=$/.test(l));
    const forge = (edit) => { const l = [...lines]; edit(l); return JSON.stringify({ ...rc, proof: l.join('\n') }); };
    const cases = [
      // the entry altered: its leaf is not in the tree
      [forge((l) => { l[1] = `extra ${Buffer.from(Buffer.from(l[1].slice(6), 'base64')
        .toString().replace('"report_id":"', '"report_id":"x')).toString('base64')}`; }), 'rcpt.proof'],
      // the receipt names another report than its entry
      [JSON.stringify({ ...rc, report: '0'.repeat(64) }), 'rcpt.names'],
      // the entry as the receipt names it, another index
      [JSON.stringify({ ...rc, index: rc.index + 1 }), 'rcpt.index'],
    ];
    if (hashAt > 0)	// a tree of one entry has no proof hashes
      cases.push([forge((l) => { l[hashAt] = Buffer.alloc(32, 7).toString('base64'); }), 'rcpt.proof']);
    // the checkpoint's size changed: its signature no longer holds
    const sizeAt = lines.indexOf('', 3) + 2;
    cases.push([forge((l) => { l[sizeAt] = String(Number(l[sizeAt]) + 1); }), 'sig.bad']);
    for (const [forged, why] of cases) {
      const r = await verifyReceipt(forged, vkey);
      assert.equal(r.ok, false, `${f}: ${why}`);
      assert.equal(r.reason, why, `${f}: ${why}`);
    }
  }
});

test('a checkpoint signed by another key fails', { skip: !dir }, async () => {
  const rc = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith('receipt-'))), 'utf8'));
  const cp = rc.proof.slice(rc.proof.indexOf('\n\n') + 2);
  assert.equal((await verifyNote(cp, vkey)).reason, 'sig.ok');
  const other = vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
  assert.equal((await verifyNote(cp, other)).reason, 'vkey.id');
  const flipped = cp.replace(/^(\S+\n\d+\n)(.)/, (m, a, c) => a + (c === 'A' ? 'B' : 'A'));
  assert.equal((await verifyNote(flipped, vkey)).reason, 'sig.bad');
});
