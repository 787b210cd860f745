// The console in a real browser: Debian's Chromium driven by playwright-core,
// each user presenting the client certificate of the test PKI, against a
// running shanhaid. Run by tests/it/console.sh, which starts the daemon:
//
//   node browser.mjs BASE PKI OUT RULES SHANHAI VKEY
//
// Every flow of issue 16: the bureau (report through the form, a refusal
// shown next to its field, the receipt, the period turning settled, a
// correction, the XLSX, the approval), the other bureau (not listed, not
// found), the auditor (checkpoint signature, receipt, tampered receipt,
// 1,000 ledger entries), the operator (status), no certificate and an
// unmapped one (refused). No console error and no request to another origin
// anywhere. Screenshots of each page and the speed figures go to OUT.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { join } from 'node:path';

const [BASE, PKI, OUT, RULES, SHANHAI, VKEY] = process.argv.slice(2);
if (!VKEY) {
  console.error('usage: node browser.mjs BASE PKI OUT RULES SHANHAI VKEY');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ORIGIN = new URL(BASE).origin;
const figures = {};
const problems = [];
let step = '';

function check(cond, what) {
  if (!cond) throw new Error(`${step}: ${what}`);
}

// --- the API, as the same users, for setup and for the ledger check ---
const agents = {};
function api(who, method, path, body) {
  agents[who] ??= new https.Agent({ keepAlive: true, maxSockets: 8,
    ca: readFileSync(join(PKI, 'ca.crt')), cert: readFileSync(join(PKI, `${who}.crt`)),
    key: readFileSync(join(PKI, `${who}.key`)) });
  return new Promise((resolve, reject) => {
    const req = https.request(`${BASE}${path}`, { method, agent: agents[who],
      headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode,
        text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function submit(who, report) {
  const r = await api(who, 'POST', '/v1/reports', JSON.stringify(report));
  if (r.status !== 201) throw new Error(`setup report ${report.report_id}: ${r.status} ${r.text}`);
  return JSON.parse(r.text);
}

async function ledgerSize() {
  const r = await api('auditor', 'GET', '/v1/ledger/checkpoint');
  return Number(r.text.split('\n')[1]);
}

// Kecheng–Yuhang 2018–2025, every month then corrections round after round,
// until the ledger has ENTRIES entries: enough for a page of 1,000.
async function bulk(template, entries) {
  const t0 = Date.now();
  const months = [];
  for (let y = 2018; y <= 2025; y++)
    for (let m = 1; m <= 12; m++) months.push(`${y}-${String(m).padStart(2, '0')}`);
  const last = {};
  for (const p of months) {
    const r = { ...template, report_id: `bulk-${p}`, period: p,
      taxes: { ...template.taxes } };
    await submit('yuhang', r);
    last[p] = r;
  }
  let round = 0;
  while (await ledgerSize() < entries) {
    round++;
    const queue = [...months];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let p; (p = queue.shift()); ) {
        const prev = last[p];
        const fen = BigInt(prev.taxes.vat.replace('.', '')) + BigInt(round * 137);
        const vat = `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`;
        const r = { ...prev, report_id: `bulk-${p}-r${round}`, supersedes: prev.report_id,
          taxes: { ...prev.taxes, vat } };
        await submit('yuhang', r);
        last[p] = r;
      }
    }));
  }
  figures.setup_seconds = (Date.now() - t0) / 1000;
}

// --- the browser ---
let browser;
const contexts = [];

async function persona(who, { lang } = {}) {
  const opts = { ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 },
    locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true };
  if (who) opts.clientCertificates = [{ origin: ORIGIN,
    certPath: join(PKI, `${who}.crt`), keyPath: join(PKI, `${who}.key`) }];
  const ctx = await browser.newContext(opts);
  contexts.push(ctx);
  if (lang) await ctx.addInitScript((l) => localStorage.setItem('shanhai.lang', l), lang);
  // Layout shifts not caused by the user (the data arriving must not move
  // what is already shown): summed as Chromium reports them.
  await ctx.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  ctx.on('request', (req) => {
    const u = new URL(req.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.origin !== ORIGIN)
      problems.push(`${who || 'none'}: request to another origin: ${req.url()}`);
  });
  const page = await ctx.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !expectedError(msg.text(), msg.location().url))
      problems.push(`${who || 'none'}: console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${who || 'none'}: page error: ${e.message}`));
  return page;
}

// The browser logs a failed fetch of a refused request (the 403 page of a
// client without a certificate, a 404 a test asks for, the refusals the
// form shows): those are the answers under test, not faults of the page.
// GET /v1/ledger/checkpoint/witnessed is 404 while no witness is configured:
// the ledger page asks for it every time.
let expecting = [];
function expectedError(text, url) {
  if (/status of 404/.test(text) && /\/v1\/ledger\/checkpoint\/witnessed$/.test(url || ''))
    return true;
  return expecting.some((re) => re.test(text));
}

async function shot(page, name, full = false) {
  await page.screenshot({ path: join(OUT, `console-${name}.png`), fullPage: full });
}

async function open(page, hash, view) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector(`main[data-view="${view}"] #view-${view}`);
  await page.waitForFunction(() => document.querySelector('main').getAttribute('aria-busy') === 'false');
}

const cases = readFileSync(join(process.env.TOP || '.',
  'tests/cases/example-kecheng-yuhang-2026/reports.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((l) => JSON.parse(l));

async function bureau() {
  step = 'bureau';
  const page = await persona('yuhang');
  const t0 = Date.now();
  await page.goto(`${BASE}/console/`);
  await page.waitForSelector('body[data-ready="1"] #agreements');
  figures.first_page_ms = Date.now() - t0;
  // The browser's own figure: DOM interactive of the navigation.
  figures.dom_interactive_ms = Math.round(await page.evaluate(() =>
    performance.getEntriesByType('navigation')[0].domInteractive));
  check(await page.locator('#agreements tr[data-agreement="kecheng-yuhang"]').count() === 1,
    'kecheng-yuhang listed');
  check(await page.locator('#agreements tbody tr').count() === 1, 'only its own agreement');
  check((await page.textContent('#agreements')).includes('杭州市余杭区财政局'), 'side names in Chinese');
  await shot(page, 'bureau-agreements');

  step = 'bureau: keyboard';
  for (let i = 0; i < 15; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.getAttribute('href')) ===
        '#/agreements/kecheng-yuhang') break;
  }
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-view="agreement"] #periods');
  figures.cls_agreement = await page.evaluate(() => window.__cls);
  await page.goBack();
  await page.waitForSelector('main[data-view="agreements"] #agreements');

  await page.click('#agreements a[href="#/agreements/kecheng-yuhang"]');
  await page.waitForSelector('main[data-view="agreement"] #periods');
  const dec = page.locator('#periods a[data-period="2026-12"]');
  check(await dec.getAttribute('data-status') === 'waiting', 'December waits');
  check(await page.locator('#periods a[data-period="2026-11"]').getAttribute('data-status') === 'settled',
    'November settled');
  await shot(page, 'bureau-agreement');

  step = 'bureau: report form';
  await dec.click();
  await page.waitForSelector('main[data-view="period"] #report-form');
  const decReport = cases.find((r) => r.report_id === 'yh-2026-12');
  const fill = async (rep, rid) => {
    await page.fill('#f-report_id', rid);
    for (const [k, v] of Object.entries(rep.taxes)) await page.fill(`#f-taxes-${k}`, v);
    for (const [k, v] of Object.entries(rep.statistics || {})) await page.fill(`#f-statistics-${k}`, v);
    if (rep.deductions) await page.fill('#f-deductions', rep.deductions);
  };
  // Checked in the page before sending (SPEC §2): no request leaves.
  await fill(decReport, 'yh-2026-12');
  await page.fill('#f-taxes-vat', '1,234.567');
  let posts = 0;
  page.on('request', (r) => { if (r.method() === 'POST') posts++; });
  await page.click('#report-submit');
  const vatErr = await page.textContent('[data-error-for="taxes.vat"]');
  check(vatErr.includes('千分位'), `amount refused in the page: "${vatErr}"`);
  check(posts === 0, 'nothing sent while a field is wrong');
  // The server's refusal next to the field its detail names.
  expecting = [/409/];
  await fill(decReport, 'yh-2026-11');
  await page.click('#report-submit');
  await page.waitForSelector('[data-error-for="report_id"]:not(:empty)');
  const ridErr = await page.textContent('[data-error-for="report_id"]');
  check(ridErr.startsWith('report_id: ') && ridErr.includes('already used'),
    `409 shown next to report_id: "${ridErr}"`);
  expecting = [];
  await shot(page, 'bureau-refusal');

  step = 'bureau: report';
  await fill(decReport, 'yh-2026-12');
  await page.click('#report-submit');
  await page.waitForSelector('#receipt');
  check(await page.textContent('#receipt-status') === '已结算', 'receipt says settled');
  await page.waitForSelector('#period-status[data-status="settled"]');
  let dl = page.waitForEvent('download');
  await page.click('#receipt-download');
  const receipt1 = join(OUT, 'console-receipt.json');
  await (await dl).saveAs(receipt1);
  const rc1 = JSON.parse(readFileSync(receipt1, 'utf8'));
  check(typeof rc1.proof === 'string' && rc1.status === 'settled', 'receipt saved');
  await shot(page, 'bureau-receipt', true);

  step = 'bureau: correction';
  await page.waitForSelector('#supersedes');
  check(await page.inputValue('#f-taxes-vat') === decReport.taxes.vat, 'correction prefilled');
  check(await page.inputValue('#f-report_id') === 'yh-2026-12-r1', 'new id suggested');
  const corrected = (BigInt(decReport.taxes.vat.replace('.', '')) + 1234567n).toString();
  await page.fill('#f-taxes-vat', `${corrected.slice(0, -2)}.${corrected.slice(-2)}`);
  await page.click('#report-submit');
  await page.waitForFunction(() => document.querySelector('#receipt dd.hash')?.textContent &&
    document.querySelector('#period-status')?.dataset.status === 'adjusted');
  dl = page.waitForEvent('download');
  await page.click('#receipt-download');
  await (await dl).saveAs(join(OUT, 'console-receipt-correction.json'));
  const rc2 = JSON.parse(readFileSync(join(OUT, 'console-receipt-correction.json'), 'utf8'));
  check(rc2.report !== rc1.report, 'the correction has its own receipt');
  await shot(page, 'bureau-correction', true);

  step = 'bureau: statement';
  await open(page, '#/agreements/kecheng-yuhang/years/2026', 'statement');
  await page.waitForSelector('#chart canvas');
  check(await page.getAttribute('#year-status', 'data-status') === 'pending', 'year pending');
  check((await page.locator('#statement-table tbody tr').count()) === 12, '12 months');
  const hash = (await page.textContent('#approve-hash')).trim();
  check(/^[0-9a-f]{64}$/.test(hash), 'statement hash shown');
  await shot(page, 'bureau-year', true);
  figures.cls_bureau = await page.evaluate(() => window.__cls);
  check(figures.cls_bureau < 0.1, `layout shift ${figures.cls_bureau} (good is < 0.1)`);

  step = 'bureau: narrow window';
  await page.setViewportSize({ width: 400, height: 800 });
  await page.waitForTimeout(200);
  const over = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  check(over <= 0, `the page is ${over} px wider than a 400 px window`);
  await shot(page, 'bureau-year-narrow', true);
  await page.setViewportSize({ width: 1280, height: 800 });

  step = 'bureau: XLSX';
  expecting = [/40[0-9]|415/];
  const xlsx = page.waitForEvent('download', { timeout: 5000 }).catch(() => null);
  await page.click('#doc-xlsx');
  await page.waitForFunction(() => /已保存|失败/.test(document.querySelector('#doc-msg').textContent));
  const got = await xlsx;
  if (got) {
    await got.saveAs(join(OUT, 'console-statement.xlsx'));
    const head = readFileSync(join(OUT, 'console-statement.xlsx')).subarray(0, 2).toString();
    check(head === 'PK', 'the XLSX is a zip');
    figures.xlsx = 'downloaded';
  } else {
    const msg = await page.textContent('#doc-msg');
    check(msg.includes('XLSX') && msg.includes('下载失败'), `clear message: "${msg}"`);
    figures.xlsx = `not served yet: ${msg}`;
  }
  expecting = [];

  step = 'bureau: approval';
  await page.check('#approve-check');
  await page.click('#approve-button');
  await page.waitForSelector('#approvals tr[data-side="host"][data-state="this"]');
  check(await page.locator('#approvals tr[data-side="home"][data-state="none"]').count() === 1,
    'home side not approved yet');
  await page.waitForSelector('#approve-done');
  await shot(page, 'bureau-approved', true);

  step = 'bureau: English';
  await page.click('#lang');
  await page.waitForSelector('#approve-done');
  check((await page.textContent('h1')).startsWith('Statement of 2026'), 'English title');
  await page.reload();
  await page.waitForSelector('body[data-ready="1"] #approve-done');
  check((await page.textContent('#lang')) === '中文', 'English remembered');
  await page.click('#lang');
  await page.waitForSelector('#approve-done');

  step = 'bureau: JSON file';
  await open(page, '#/agreements/kecheng-yuhang/periods/2027-01', 'period');
  const bad = join(OUT, 'console-not-json.json');
  writeFileSync(bad, 'vat = 1234\n');
  await page.setInputFiles('#report-file', bad);
  await page.waitForSelector('#report-form .formerr:not([hidden])');
  check((await page.textContent('#report-form .formerr')).includes('不是 JSON'), 'a file that is not JSON');
  const jan = { ...cases[0], report_id: 'yh-2027-01', period: '2027-01' };
  const file = join(OUT, 'console-upload-2027-01.json');
  writeFileSync(file, JSON.stringify(jan, null, 2));
  await page.setInputFiles('#report-file', file);
  await page.waitForSelector('#receipt');
  await page.waitForSelector('#period-status[data-status="settled"]');
  return { rc1, rc2, decReport, hash };
}

async function otherBureau() {
  step = 'other bureau';
  const page = await persona('kaihua');
  expecting = [/404/];
  await page.goto(`${BASE}/console/`);
  await page.waitForSelector('body[data-ready="1"] #agreements');
  check(await page.locator('#agreements tr[data-agreement="kecheng-yuhang"]').count() === 0,
    'not listed');
  for (const h of ['#/agreements/kecheng-yuhang', '#/agreements/kecheng-yuhang/periods/2026-12',
    '#/agreements/kecheng-yuhang/years/2026']) {
    await page.evaluate((x) => { location.hash = x; }, h);
    await page.waitForSelector('main .notfound');
    check((await page.textContent('main .notfound h1')) === '未找到', `${h}: not found`);
  }
  await shot(page, 'other-bureau-notfound');
  expecting = [];
}

async function auditor(rc1) {
  step = 'auditor: verify';
  const page = await persona('auditor');
  await page.goto(`${BASE}/console/`);
  await page.waitForSelector('body[data-ready="1"] main[data-view="ledger"]');
  await open(page, '#/verify', 'verify');
  await page.fill('#vkey', readFileSync(VKEY, 'utf8').trim());
  await page.click('#verify-checkpoint');
  await page.waitForSelector('#checkpoint-result[data-result]');
  check(await page.getAttribute('#checkpoint-result', 'data-result') === 'pass',
    `checkpoint: ${await page.textContent('#checkpoint-result')}`);
  check(/账本 \d+ 条/.test(await page.textContent('#checkpoint-result')), 'says the size it checked');
  await page.setInputFiles('#receipt-file', join(OUT, 'console-receipt.json'));
  await page.click('#verify-receipt');
  await page.waitForSelector('#receipt-result[data-result]');
  check(await page.getAttribute('#receipt-result', 'data-result') === 'pass',
    `receipt: ${await page.textContent('#receipt-result')}`);
  await shot(page, 'auditor-verify', true);

  // A receipt whose report entry says another VAT: same shape, fails.
  const lines = rc1.proof.split('\n');
  const entry = Buffer.from(lines[1].slice(6), 'base64').toString('utf8');
  const forged = entry.replace(/"vat":"(\d)/, (m, d) => `"vat":"${(Number(d) + 1) % 10}`);
  check(forged !== entry, 'tampering changed the entry');
  lines[1] = `extra ${Buffer.from(forged).toString('base64')}`;
  const tampered = join(OUT, 'console-receipt-tampered.json');
  writeFileSync(tampered, JSON.stringify({ ...rc1, proof: lines.join('\n') }));
  await page.evaluate(() => { const r = document.querySelector('#receipt-result');
    delete r.dataset.result; });
  await page.setInputFiles('#receipt-file', tampered);
  await page.click('#verify-receipt');
  await page.waitForSelector('#receipt-result[data-result]');
  check(await page.getAttribute('#receipt-result', 'data-result') === 'fail', 'tampered receipt fails');
  check((await page.textContent('#receipt-result')).includes('不通过'), 'says it fails');
  await shot(page, 'auditor-tampered', true);

  // A wrong key: the checkpoint fails.
  const other = readFileSync(VKEY, 'utf8').trim().replace(/\+[0-9a-f]{8}\+/, '+00000000+');
  await page.fill('#vkey', other);
  await page.evaluate(() => { delete document.querySelector('#checkpoint-result').dataset.result; });
  await page.click('#verify-checkpoint');
  await page.waitForSelector('#checkpoint-result[data-result]');
  check(await page.getAttribute('#checkpoint-result', 'data-result') === 'fail', 'wrong key fails');

  step = 'auditor: ledger';
  const t0 = Date.now();
  await open(page, '#/ledger?start=0&n=1000', 'ledger');
  figures.ledger_page_ms = Date.now() - t0;
  const rows = Number(await page.getAttribute('#entries', 'data-rows'));
  figures.ledger_rows = rows;
  figures.ledger_render_ms = Number(await page.getAttribute('#entries', 'data-render-ms'));
  check(rows === 1000, `1000 entries shown, not ${rows}`);
  await shot(page, 'auditor-ledger');
  await open(page, '#/ledger?start=0&n=1000&agreement=kecheng-yuhang&type=adjustment', 'ledger');
  const types = await page.$$eval('#entries .erow[data-type]', (trs) => [...new Set(trs.map((r) => r.dataset.type))]);
  check(types.length === 1 && types[0] === 'adjustment', `filter by type: ${types}`);
}

async function operator() {
  step = 'operator';
  const page = await persona('operator');
  await page.goto(`${BASE}/console/`);
  await page.waitForSelector('body[data-ready="1"] #status-agreements');
  for (const a of ['kecheng-yuhang', 'kaihua-tongxiang', 'longquan-xiaoshan', 'qujiang-yinzhou'])
    check(await page.locator(`#status-agreements tr[data-agreement="${a}"]`).count() === 1,
      `status lists ${a}`);
  check(/^[0-9a-f]{64}$/.test(await page.textContent(
    '#status-agreements tr[data-agreement="kecheng-yuhang"] td.hash')), 'hash shown');
  await shot(page, 'operator-status', true);
}

async function refused() {
  step = 'no certificate';
  expecting = [/403/];
  for (const who of [null, 'stranger']) {
    const page = await persona(who);
    const res = await page.goto(`${BASE}/console/`);
    check(res.status() === 403, `${who}: 403, not ${res.status()}`);
    const text = await page.textContent('body');
    check(text.includes('需要客户端证书') && text.includes('shanhai test CA'),
      `${who}: says which certificate: ${text.slice(0, 200)}`);
    if (who) check(text.includes('指纹'), 'names the fingerprint it saw');
    check(await page.locator('script').count() === 0, 'and nothing else');
    await shot(page, who ? 'unmapped-refused' : 'nocert-refused');
  }
  expecting = [];
}

// The ledger's entries equal `shanhai settle` on the reports it holds.
async function sameAsSettle() {
  step = 'ledger = shanhai settle';
  const size = await ledgerSize();
  const r = await api('auditor', 'GET', `/v1/ledger/entries?start=0&end=${size}`);
  const entries = r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const reports = entries.filter((e) => e.type === 'report').map((e) => JSON.stringify(e.report));
  const file = join(OUT, 'console-reports.jsonl');
  writeFileSync(file, reports.join('\n') + '\n');
  const offline = execFileSync(SHANHAI, ['settle', '--rules', RULES, file],
    { maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
  const strip = (e) => { const c = { ...e }; delete c.time; delete c.submitter; return JSON.stringify(c); };
  const online = entries.filter((e) => !['rules', 'approval', 'key'].includes(e.type)).map(strip);
  check(online.length === offline.length, `${online.length} entries, settle made ${offline.length}`);
  for (let i = 0; i < online.length; i++)
    check(online[i] === strip(JSON.parse(offline[i])), `entry ${i} differs:\n${online[i]}\n${offline[i]}`);
  figures.ledger_entries = size;
}

async function main() {
  const setup = cases.filter((r) => r.report_id !== 'yh-2026-12');
  if (!process.env.NO_BULK) await bulk({ ...setup[0], period: undefined }, 1100);
  for (const r of setup) await submit('yuhang', r);
  browser = await chromium.launch({ executablePath: CHROMIUM });
  figures.chromium = browser.version();
  try {
    const { rc1 } = await bureau();
    await otherBureau();
    await auditor(rc1);
    await operator();
    await refused();
    await sameAsSettle();
    check(problems.length === 0, `problems:\n  ${problems.join('\n  ')}`);
  } catch (e) {
    // What each page showed when it failed.
    let n = 0;
    for (const c of contexts)
      for (const p of c.pages())
        await p.screenshot({ path: join(OUT, `console-fail-${n++}.png`), fullPage: true })
          .catch(() => {});
    throw e;
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    await browser.close();
    for (const a of Object.values(agents)) a.destroy();
  }
  const size = existsSync(join(process.env.CONSOLE_DIR || '', 'size.txt')) ?
    readFileSync(join(process.env.CONSOLE_DIR, 'size.txt'), 'utf8').trim().split(' ') : null;
  if (size) { figures.bundle_bytes = Number(size[0]); figures.bundle_gzip_bytes = Number(size[1]); }
  check(!size || figures.bundle_gzip_bytes < 1 << 20, 'bundle over 1 MiB compressed');
  writeFileSync(join(OUT, 'console-figures.json'), JSON.stringify(figures, null, 1) + '\n');
  console.log(JSON.stringify(figures));
}

main().catch((e) => {
  console.error(`FAIL: ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
