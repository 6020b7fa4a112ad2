// dashboard.mjs - browser end-to-end test of the dashboard: playwright-core
// driving Debian's chromium (headless) against a running `dmarcstat serve`
// on a fixture database (tests/integration/web_e2e.sh starts both).
//
// Every view in English and Japanese; filters, sorting and drill-downs;
// upload; hostile report values (HTML/JS in org_name, report_id, domains,
// PTR names, AS names) must show as text and never run; no console errors;
// no CSP violations.  Sender intelligence: the Senders view (sections,
// expandable groups, world map, rules), classified Sources (class filter,
// host / group / service / ASN / country / reason), the Readiness panel,
// and approving a source changes its class at once.  Ingest ledger: status
// and source filters (command line, upload via POST /tlsrpt), paging keeps
// them; the intake status panel (no mailbox configured; and on a second
// server, INTAKE_URL, real mailboxes on a loopback Dovecot: working, failing
// with markup in the folder name, removed from the configuration; a spool).
// Env: BASE_URL, INTAKE_URL (optional), FIXTURES (tests/fixtures/web),
// SCREENSHOTS (dir, optional), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE = process.env.BASE_URL || 'http://127.0.0.1:8025/';
const FIX = process.env.FIXTURES || 'tests/fixtures/web';
const SHOTS = process.env.SCREENSHOTS || '';
const RANGE = 'range=custom&from=2026-06-01&to=2026-06-30';
const INTAKE = process.env.INTAKE_URL || '';

let passed = 0, failed = 0;
const problems = [];
function check(name, ok, detail) {
  if (ok) { passed++; console.log('ok   ' + name); }
  else { failed++; console.log('FAIL ' + name + (detail ? ': ' + detail : '')); }
}

const profile = mkdtempSync(join(tmpdir(), 'dmarcstat-e2e-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1360, height: 900 },
  acceptDownloads: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--no-first-run', '--disable-component-update', '--disable-sync'],
});
const page = ctx.pages()[0] ?? await ctx.newPage();
page.setDefaultTimeout(15000);
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('dialog', (d) => { problems.push('dialog opened: ' + d.message()); d.dismiss(); });
await ctx.addInitScript(() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
});

async function open(hash) {
  await page.goto(BASE + hash);
  await page.waitForSelector('body[data-ready="1"]');
}
async function waitRoute() {
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}
async function click(sel) {
  await page.evaluate(() => { document.body.dataset.ready = '0'; });
  await page.click(sel);
  await waitRoute();
}
async function select(sel, value) {
  await page.evaluate(() => { document.body.dataset.ready = '0'; });
  await page.selectOption(sel, value);
  await waitRoute();
}
async function text(sel) { return (await page.textContent(sel)) || ''; }
async function shot(name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: false });
}
async function safety(where) {
  const s = await page.evaluate(() => ({
    pwned: window.__pwned, csp: window.__csp,
    scripts: [...document.querySelectorAll('main script, main iframe, main svg[onload], main [onerror]')].length,
  }));
  check(`${where}: hostile values did not run`, s.pwned === undefined && s.scripts === 0, JSON.stringify(s));
  check(`${where}: no CSP violations`, s.csp.length === 0, s.csp.join('; '));
}

async function api(path) {
  return page.evaluate(async (p) => (await fetch('/api/' + p)).json(), path);
}
async function apiSend(method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const r = await fetch('/api/' + p, { method: m, headers: { 'X-Dmarcstat-Action': '1', 'Content-Type': 'application/json' },
      body: b === null ? undefined : JSON.stringify(b) });
    return { status: r.status, body: await r.json() };
  }, [method, path, body ?? null]);
}
async function rowClass(ip) {
  return page.$$eval('main table.data tbody tr', (trs, want) => {
    for (const tr of trs) {
      const a = tr.querySelector('[data-col=ip] a');
      if (a && a.textContent === want) return tr.querySelector('[data-col=class] .badge')?.dataset.class ?? null;
    }
    return null;
  }, ip);
}

for (const lang of ['en', 'ja']) {
  await page.goto(BASE);
  await page.evaluate((l) => { localStorage.clear(); localStorage.setItem('dmarcstat.lang', l); }, lang);
  const L = (en, ja) => (lang === 'en' ? en : ja);

  // Overview.
  await open('#/overview?' + RANGE);
  check(`${lang} overview: language`, (await text('#nav')).includes(L('Overview', '概要')));
  check(`${lang} overview: html lang`, (await page.getAttribute('html', 'lang')) === lang);
  const tz = await text('#foot-note');
  check(`${lang} overview: time zone`, lang === 'ja' ? tz.includes('Asia/Tokyo') : tz.length > 0, tz);
  const rows = await page.$$eval('main table.data tbody tr', (trs) => trs.map((tr) => tr.querySelector('[data-col=domain]').textContent));
  check(`${lang} overview: every domain`, ['example.com', 'example.jp', 'shop.example.net'].every((d) => rows.includes(d)), rows.join(','));
  const ov = await api('overview?since=' + (Date.UTC(2026, 5, 1) / 1000 - (lang === 'ja' ? 9 * 3600 : 0)) +
    '&until=' + (Date.UTC(2026, 6, 1) / 1000 - (lang === 'ja' ? 9 * 3600 : 0)));
  const com = ov.domains.find((d) => d.domain === 'example.com');
  const shown = await page.$eval('main table.data tbody', (tb, dom) => {
    for (const tr of tb.querySelectorAll('tr')) if (tr.querySelector('[data-col=domain]').textContent === dom)
      return tr.querySelector('[data-col=messages]').textContent;
    return null;
  }, 'example.com');
  const expect = new Intl.NumberFormat(lang).format(com.messages);
  check(`${lang} overview: messages from the API (${expect})`, shown === expect, `${shown} != ${expect}`);
  check(`${lang} overview: sparklines drawn`, (await page.$$('main .spark canvas')).length >= 3);
  check(`${lang} overview: plain-language status`, (await text('main [data-col=status]')).length > 10);
  await shot(`overview-${lang}`);

  // Presets and sorting keep state in the URL.
  await click('.presets button[data-range="7"]');
  check(`${lang} preset 7 days in URL`, page.url().includes('range=7'), page.url());
  await open('#/overview?' + RANGE);
  await click('main th button[data-sort="domain"]');
  check(`${lang} overview: sort in URL`, page.url().includes('sort=domain'), page.url());

  // Domain: chart, advice, policy history.
  await click('main a[href^="#/domain/example.com"]');
  check(`${lang} domain: title`, (await text('main h1')) === 'example.com');
  check(`${lang} domain: uPlot chart`, (await page.$$('#daily-chart canvas')).length === 1);
  check(`${lang} domain: chart legend`, (await text('#daily-chart .u-legend')).includes(L('Pass', '合格')));
  check(`${lang} domain: what to do next`, (await page.$$('main ol.advice li')).length >= 1);
  check(`${lang} domain: advice names the ESP`, (await text('main ol.advice')).includes('198.51.100.25'));
  check(`${lang} domain: policy history`, (await text('main')).includes('p=none'));
  await shot(`domain-${lang}`);
  await select('#f-result', 'fail');
  check(`${lang} domain: result filter in URL`, page.url().includes('result=fail'), page.url());

  // Sources: only failures, sort, drill-down to records and a report.
  await open('#/sources?domain=example.com&' + RANGE);
  const nAll = (await page.$$('main table.data tbody tr')).length;
  await shot(`sources-${lang}`);
  await click('#only-failures');
  check(`${lang} sources: only failures in URL`, page.url().includes('only_failures=1'));
  const fails = await page.$$eval('main table.data tbody tr [data-col=fail]', (tds) => tds.map((td) => td.textContent));
  check(`${lang} sources: only failing rows`, fails.length > 0 && fails.length < nAll && fails.every((f) => f !== '0'), fails.join(','));
  await click('main th button[data-sort="ip"]');
  check(`${lang} sources: sort by ip`, page.url().includes('sort=ip'));
  await open('#/sources?domain=example.com&' + RANGE);
  await click('main a[href^="#/source/192.0.2.66"]');
  check(`${lang} source drill-down`, (await text('main h1')) === '192.0.2.66');
  const hostileHf = await text('main table.data tbody');
  check(`${lang} source: hostile header_from shown as text`, hostileHf.includes('<svg onload=window.__pwned=3>'));
  await safety(`${lang} source`);
  await click('main table.data tbody a[href^="#/report/"]');
  check(`${lang} report detail`, (await page.$$('main table.data tbody tr')).length >= 1);
  const h1 = await text('main h1');
  check(`${lang} report: hostile org_name shown as text`, h1.includes('<script>window.__pwned=1</script>Evil "Corp"'), h1);
  check(`${lang} report: raw download link`, !!(await page.$('#raw-download')));
  await safety(`${lang} report`);
  if (lang === 'en') {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#raw-download')]);
    check('raw XML download', (await dl.suggestedFilename()).startsWith('report-'), await dl.suggestedFilename());
  }

  // Senders: sections, groups, class breakdown, world map, rules.
  await open('#/senders?' + RANGE);
  check(`${lang} senders: title`, (await text('main h1')) === L('Senders', '送信者'));
  check(`${lang} senders: in the navigation`, (await text('#nav')).includes(L('Senders', '送信者')));
  const secs = await page.$$eval('main section.sender-section', (ss) => ss.map((x) => x.id));
  check(`${lang} senders: own, services, forwarders, others`, ['section-own', 'section-services', 'section-forwarders', 'section-others'].every((x) => secs.includes(x)), secs.join(','));
  check(`${lang} senders: own servers group`, (await text('#section-own')).includes('example.com'));
  check(`${lang} senders: ESP named`, (await text('#section-services')).includes('SendGrid'));
  check(`${lang} senders: forwarder named`, (await text('#section-forwarders')).includes('Forward Email'));
  check(`${lang} senders: class bars`, (await page.$$('main svg.cls-bar rect')).length >= 4);
  await page.waitForSelector('#world-map svg.world-map path.country');
  const mapped = await page.$$eval('#world-map path.country[data-cc]', (ps) => ps.map((p) => p.dataset.cc + ':' + p.getAttribute('class')));
  check(`${lang} senders: world map shades source countries`, ['JP', 'US', 'DE', 'CN', 'BR'].every((c) => mapped.some((m) => m.startsWith(c + ':country lvl') && !m.includes('lvl0'))), mapped.join(' '));
  check(`${lang} senders: spoofing countries outlined`, mapped.some((m) => m.startsWith('CN:') && m.includes('spoof')), mapped.join(' '));
  check(`${lang} senders: countries table named in the language`, (await text('#map-card table')).includes(L('Japan', '日本')));
  await page.click('#section-services button.expand');
  await page.waitForSelector('#section-services .group-sources table.data');
  check(`${lang} senders: group expands to its sources`, (await text('#section-services .group-sources')).includes('203.0.113.5'));
  await safety(`${lang} senders`);
  await shot(`senders-${lang}`);
  await page.evaluate(() => document.getElementById('map-card').scrollIntoView());
  await shot(`map-${lang}`);
  await page.evaluate(() => { document.body.dataset.ready = '0'; });
  await page.focus('#world-map path.country[data-cc="JP"]');   // keyboard: small islands are hard to hit
  await page.keyboard.press('Enter');
  await waitRoute();
  check(`${lang} map: a country opens its sources`, page.url().includes('country=JP') &&
    (await page.$$eval('main table.data tbody [data-col=country]', (tds) => tds.length > 0 && tds.every((td) => td.textContent.startsWith('JP')))), page.url());

  // Sources: classified columns, class filter, hostile DNS values as text.
  await open('#/sources?' + RANGE);
  const srcText = await text('main table.data');
  check(`${lang} sources: host names`, srcText.includes('mail.example.com') && srcText.includes('o1.ptr4021.sendgrid.net'));
  check(`${lang} sources: ASN and country`, srcText.includes('AS11377') && srcText.includes(L('United States', 'アメリカ合衆国')));
  check(`${lang} sources: hostile PTR and AS name shown as text`, srcText.includes('<img src=x onerror=window.__pwned=5>.evil.example') &&
    srcText.includes('<script>window.__pwned=6</script>Evil AS'));
  const reason = await text('main table.data tbody tr:first-child [data-col=reason]');
  check(`${lang} sources: reason in the language`, lang === 'en' ? /DKIM/.test(reason) && !/[\u3040-\u30ff]/.test(reason) : /[\u3040-\u30ff]/.test(reason), reason);
  await safety(`${lang} sources`);
  await click('#class-filter a[data-class="spoofing"]');
  check(`${lang} sources: class filter in URL`, page.url().includes('class=spoofing'), page.url());
  const classes = await page.$$eval('main table.data tbody [data-col=class] .badge', (bs) => bs.map((b) => b.dataset.class));
  check(`${lang} sources: only spoofing rows`, classes.length > 0 && classes.every((c) => c === 'spoofing'), classes.join(','));
  check(`${lang} sources: class chip counts`, /\d/.test(await text('#class-filter a[data-class="spoofing"] .count')));
  await shot(`sources-class-${lang}`);

  // Readiness panel before any rule.
  await open('#/domain/example.com?' + RANGE);
  check(`${lang} readiness: panel`, !!(await page.$('#readiness')));
  check(`${lang} readiness: verdict`, (await text('#readiness-verdict')).length > 10, await text('#readiness-verdict'));
  check(`${lang} readiness: simulation counts forwarded apart`, (await text('#readiness table')).includes(L('Forwarded', '転送')));
  check(`${lang} readiness: checklist`, (await page.$$('#readiness-checklist li')).length >= 5);

  // Approve the ESP without aligned DKIM: spoofing -> misconfigured at once,
  // the readiness verdict names it, then remove the rule again.
  await open('#/sources?domain=example.com&' + RANGE);
  check(`${lang} approve: before`, (await rowClass('198.51.100.25')) === 'spoofing', await rowClass('198.51.100.25'));
  await click('button[data-approve="198.51.100.25"]');
  await page.waitForFunction(() => [...document.querySelectorAll('main table.data tbody tr')].some((tr) =>
    tr.querySelector('[data-col=ip] a')?.textContent === '198.51.100.25' && tr.querySelector('[data-col=class] .badge')?.dataset.class === 'misconfigured'));
  check(`${lang} approve: class changed to misconfigured`, (await rowClass('198.51.100.25')) === 'misconfigured');
  await open('#/domain/example.com?' + RANGE);
  check(`${lang} approve: readiness lists the hit source`, (await text('#readiness-hit')).includes('198.51.100.25'));
  check(`${lang} approve: verdict not ready`, (await page.getAttribute('#readiness-verdict', 'data-verdict')) === 'not_ready');
  check(`${lang} approve: next step names DKIM`, (await text('#readiness-steps')).includes('DKIM'));
  await safety(`${lang} domain readiness`);
  await page.evaluate(() => document.getElementById('readiness').scrollIntoView());
  await shot(`readiness-${lang}`);
  await open('#/source/198.51.100.25?' + RANGE);
  check(`${lang} source: classification card`, (await text('#source-intel')).includes(L('Misconfigured', '設定不備')));
  await open('#/senders?' + RANGE);
  check(`${lang} rules: listed`, (await text('main')).includes('198.51.100.25'));
  await click('button[data-remove-rule]');
  check(`${lang} rules: removed`, (await api('rules')).rules.length === 0);

  // Reporters: the silent one is flagged.
  await open('#/reporters?' + RANGE);
  const silent = await page.$$eval('main tr.is-silent [data-col=reporter]', (tds) => tds.map((t) => t.textContent));
  check(`${lang} reporters: Yahoo flagged silent`, silent.includes('Yahoo') && !silent.includes('google.com'), silent.join(','));
  await safety(`${lang} reporters`);
  await shot(`reporters-${lang}`);

  // Reports list with filters.
  await open('#/reports?' + RANGE);
  await select('#f-reporter', 'Yahoo');
  const reps = await page.$$eval('main table.data tbody [data-col=reporter]', (tds) => tds.map((t) => t.textContent));
  check(`${lang} reports: reporter filter`, reps.length > 0 && reps.every((r) => r === 'Yahoo'), reps.slice(0, 3).join(','));
  // Report-ID search: a part of the first row's ID, upper-cased, finds it.
  await open('#/reports?' + RANGE);
  const firstId = await text('main table.data tbody [data-col=report_id]');
  const part = firstId.slice(1, 7).toUpperCase();
  await page.fill('#f-report-id', part);
  await click('#f-report-id-go');
  const ids = await page.$$eval('main table.data tbody [data-col=report_id]', (tds) => tds.map((t) => t.textContent));
  check(`${lang} reports: Report-ID search`, part.length === 6 && page.url().includes('report_id=') &&
    ids.includes(firstId) && ids.every((x) => x.toUpperCase().includes(part)), part + ': ' + ids.slice(0, 3).join(','));
  check(`${lang} reports: search label in the language`, (await text('form.search label')).includes(L('Report ID contains', 'レポート ID に含む文字列')));
  await click('#f-report-id-clear');
  check(`${lang} reports: search cleared`, !page.url().includes('report_id='));
  // a broad search pages, and the next page is still the search
  await open('#/reports?' + RANGE + '&report_id=1');
  await click('main nav.pager button[data-page="next"]');
  const ids2 = await page.$$eval('main table.data tbody [data-col=report_id]', (tds) => tds.map((t) => t.textContent));
  check(`${lang} reports: the next page keeps the search`, page.url().includes('report_id=1') && page.url().includes('offset=50') &&
    ids2.length > 0 && ids2.every((x) => x.includes('1')), page.url());
  await open('#/reports?' + RANGE);
  await safety(`${lang} reports`);
  await shot(`reports-${lang}`);

  // Ledger.
  await open('#/ledger');
  check(`${lang} ledger: entries`, (await page.$$('main table.data tbody tr')).length > 10);
  await click('main a.chip[data-status="imported"]');
  check(`${lang} ledger: status filter`, page.url().includes('status=imported'));

  // Ledger by source: the fixtures came from the command line; a TLS report
  // POSTed to /tlsrpt is an upload.  The filters combine and survive paging.
  check(`${lang} ledger: source chips`, (await text('#origin-filter')).includes(L('MTA pipe', 'MTA パイプ')) &&
    (await text('#origin-filter')).includes(L('spool folder', 'スプールフォルダー')), await text('#origin-filter'));
  await click('#origin-filter a[data-origin="import"]');
  check(`${lang} ledger: source filter in URL`, page.url().includes('origin=import') && page.url().includes('status=imported'), page.url());
  const fromCli = await page.$$eval('#ledger-entries tbody [data-col=source] span', (ss) => ss.map((s) => s.dataset.origin + ':' + s.textContent));
  check(`${lang} ledger: only command-line rows`, fromCli.length > 10 && fromCli.every((s) => s === 'import:' + L('command line', 'コマンドライン')), fromCli.slice(0, 2).join(','));
  if (await page.$('#ledger-entries button[data-page="next"]:not([disabled])')) {
    await click('#ledger-entries button[data-page="next"]');
    check(`${lang} ledger: paging keeps the source filter`, page.url().includes('origin=import') && page.url().includes('offset=100'), page.url());
  }
  const tls = await page.evaluate(async (l) => (await fetch('/tlsrpt', { method: 'POST', headers: { 'Content-Type': 'application/tlsrpt+json' },
    body: JSON.stringify({ 'organization-name': 'e2e ' + l, 'report-id': 'e2e-' + l, policies: [] }) })).status, lang);
  check(`${lang} tlsrpt accepted`, tls === 200, String(tls));
  await open('#/ledger?origin=upload');
  const ups = await page.$$eval('#ledger-entries tbody tr', (trs) => trs.map((tr) => tr.querySelector('[data-col=source] span').dataset.origin + ':' + tr.querySelector('[data-col=input]').textContent));
  check(`${lang} ledger: upload filter shows the TLS report`, ups.length >= 1 && ups.every((u) => u.startsWith('upload:')) && ups.some((u) => u.includes('POST /tlsrpt')), ups.join(','));
  check(`${lang} ledger: upload chip is selected`, (await page.getAttribute('#origin-filter a[data-origin="upload"]', 'class')).includes('on'));
  // reasons are stored in English and shown in the viewer's language
  const why = await page.$$eval('#ledger-entries tbody [data-col=reason]', (tds) => tds.map((t) => t.textContent));
  check(`${lang} ledger: reason in the viewer's language`, why.some((w) => w === L('SMTP TLS report stored raw', 'SMTP TLS レポートを原本のまま保存しました')), why.join(' | '));

  // Intake status panel: no mailbox in this server's configuration.
  check(`${lang} intake panel: no mailbox configured`, (await text('#intake-no-mailboxes')).includes(L('No mailbox is configured', 'メールボックスが設定されていません')),
    await text('#intake-status'));
  // ... and on a second server configured with real mailboxes on a loopback
  // Dovecot (web_e2e.sh): one that works, one whose folder does not exist and
  // carries markup in its name, one polled once and since removed; a Maildir
  // spool.
  if (INTAKE) {
    await page.goto(INTAKE);
    await page.evaluate((l) => { localStorage.clear(); localStorage.setItem('dmarcstat.lang', l); }, lang);
    await page.goto(INTAKE + '#/ledger');
    await page.reload();   // the language is read when the page loads
    await page.waitForSelector('body[data-ready="1"]');
    const states = Object.fromEntries(await page.$$eval('#intake-mailboxes tbody tr', (trs) => trs.map((tr) => [
      tr.querySelector('[data-col=name]')?.textContent.trim(), tr.querySelector('[data-col=state] .badge')?.dataset.state + ':' +
        tr.querySelector('[data-col=state] .badge')?.textContent])));
    check(`${lang} intake panel: real mailboxes, states in the language`, states.reports === 'ok:' + L('OK', '正常') &&
      states.broken === 'error:' + L('error', 'エラー') && states.old === 'removed:' + L('no longer configured', '設定から削除済み'),
      JSON.stringify(states));
    const panel = await text('#intake-status');
    check(`${lang} intake panel: hostile folder name and the server's error shown as text`,
      panel.includes('Reports/<img src=x onerror=window.__pwned=9>'), panel.slice(0, 300));
    check(`${lang} intake panel: poll interval`, panel.includes(L('every 5 minutes', '5 分ごと')), panel.slice(0, 300));
    check(`${lang} intake panel: spool folder`, (await text('#intake-spool')).includes('Maildir'));
    await safety(`${lang} intake panel`);
    await shot(`ledger-intake-${lang}`);
    await click('#intake-mailboxes a[data-mailbox="reports"]');
    check(`${lang} intake panel: a mailbox opens its ledger`, page.url().includes('origin=mailbox') && page.url().includes('mailbox=reports'), page.url());
    check(`${lang} ledger: mailbox filter shown`, (await text('#mailbox-filter')).includes('reports'));
    const fetched = await page.$$('#ledger-entries tbody tr');
    check(`${lang} ledger: a row per mail fetched from the mailbox`, fetched.length >= 2, String(fetched.length));
    await click('#mailbox-filter a');
    check(`${lang} ledger: mailbox filter cleared`, !page.url().includes('mailbox='), page.url());
  } else {
    console.log(`SKIP ${lang} intake panel with real mailboxes (no Dovecot)`);
  }

  // Printable monthly report.
  await open('#/print/example.com?month=2026-06');
  check(`${lang} print: A4 page`, !!(await page.$('main .print-page #daily-chart, main .print-page .print-chart canvas')));
  check(`${lang} print: title`, (await text('main h1')).includes('example.com'));
  await shot(`print-${lang}`);

  // Upload.
  await open('#/upload');
  await page.setInputFiles('#upload-input', [join(FIX, 'upload', 'upload-report.xml.gz'), join(FIX, 'upload', 'notes.txt')]);
  await page.evaluate(() => { document.body.dataset.ready = '0'; });
  await page.click('#upload-send');
  await page.waitForSelector('#upload-summary');
  await waitRoute();
  const st = await page.$$eval('#upload-results table.data tbody [data-col=status]', (tds) => tds.map((t) => t.textContent));
  const want = lang === 'en' ? [L('imported'), L('not a report')] : ['重複', 'レポートではない'];
  check(`${lang} upload: per-file results`, JSON.stringify(st) === JSON.stringify(want), JSON.stringify(st));
  const details = await text('#upload-results');
  check(`${lang} upload: reasons in the viewer's language`, details.includes(L('no DMARC report found', 'DMARC レポートが見つかりません')), details);
  await shot(`upload-${lang}`);

  // Switch language with the selector and check it is remembered.
  const other = lang === 'en' ? 'ja' : 'en';
  await select('#pref-lang', other);
  check(`${lang} switch to ${other}`, (await page.getAttribute('html', 'lang')) === other);
  check(`${lang} language remembered`, (await page.evaluate(() => localStorage.getItem('dmarcstat.lang'))) === other);
}

// Time zone selector.
await open('#/overview?' + RANGE);
await select('#pref-tz', 'UTC');
check('time zone selectable', (await text('#foot-note')).includes('UTC'));

check('no console errors or warnings', problems.length === 0, problems.join(' | '));

// After the console check: the browser logs refused requests as errors.
// Rule changes need the dashboard's header and a JSON body.
const noHeader = await page.evaluate(async () => (await fetch('/api/rules', { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ action: 'approve', kind: 'ip', pattern: '192.0.2.1' }) })).status);
check('rule change without the header refused', noHeader === 403, String(noHeader));
const bad = await apiSend('POST', 'rules', { action: 'approve', kind: 'ip', pattern: 'not an ip' });
check('bad rule refused with a reason', bad.status === 400 && bad.body.error.message.length > 0, JSON.stringify(bad));

await ctx.close();
rmSync(profile, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
