// tests/js/reasons.mjs - web/js/reasons.js against the same expectations as
// tests/unit/test_reasontr.c (src/lib/reasontr.c): both read
// web/i18n/reasons.json and must translate alike.  Run by
// tests/integration/reasons_js.sh with node; exits 1 on the first mismatch.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const src = process.env.DMARCSTAT_SRC;
const read = (p) => readFileSync(src + '/web' + p, 'utf8');
// just enough browser for i18n.js and reasons.js
globalThis.localStorage = { getItem: () => null, setItem: () => {} };
globalThis.navigator = { languages: ['ja'] };
globalThis.fetch = async (url) => ({ ok: true, status: 200, json: async () => JSON.parse(read(url)) });
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const i18n = await import(pathToFileURL(src + '/web/js/i18n.js'));
const reasons = await import(pathToFileURL(src + '/web/js/reasons.js'));
await i18n.setLang('ja', false);
await reasons.loadReasons();

let failed = 0;
function expect(text, want) {
  const got = reasons.reasonText(text);
  if (got !== want) {
    console.error(`reasons.js: "${text}"\n  got  "${got}"\n  want "${want}"`);
    failed++;
  }
}

// the examples of test_reasontr.c
expect('DTD not allowed', 'DTD (文書型定義) は受け付けません');
expect('truncated 3 text value(s) longer than max_text (65536 bytes)',
  'max_text (65536 バイト) より長いテキスト値を 3 個切り詰めました');
expect('part 2 (text/xml): XML error: not well-formed (invalid token) (line 3, column 17 of the repaired text)',
  'part 2 (text/xml): XML エラー: 整形式ではありません (不正なトークン) (修復後のテキストの 3 行 17 列)');
expect('no DMARC report found (held: XML <html>, text/plain, unknown)',
  'DMARC レポートが見つかりません (中身: XML <html>, text/plain, 不明なデータ)');
expect('gzip: truncated stream', 'gzip: データが途中で切れています');
expect('cannot open: No such file or directory', '開けません: ファイルまたはフォルダがありません');
expect('12 records, 40 messages, with warnings', 'レコード 12 件、メッセージ 40 通 (警告あり)');
expect('date_range spans many days', 'date_range spans many days');
expect('something nobody wrote down', 'something nobody wrote down');
expect('part 2: not known: at all', 'part 2: not known: at all');
expect('<img src=x onerror=alert(1)>', '<img src=x onerror=alert(1)>');

// every entry is the one chosen for a text made from its own pattern
const doc = JSON.parse(read('/i18n/reasons.json'));
for (const e of doc.reasons) {
  const kinds = [...e.en.matchAll(/%([sd%])/g)].map((m) => m[1]).filter((k) => k !== '%');
  let k = 0;
  const text = e.en.replace(/%([sd%])/g, (all, c) => (c === '%' ? '%' : (c === 's' ? 'Q' : '7') + String(++k)));
  const want = e.ja.replace(/%([1-9%])/g, (all, c) => (c === '%' ? '%' : (kinds[c - 1] === 's' ? 'Q' : '7') + c));
  expect(text, want);
}

// Every message the code formats for these paths has its Japanese: the
// format strings of the calls below are read from the sources, their holes
// filled, and the text must translate (unless nothing but holes and a
// command-name prefix is left, as in "config: %s").
const calls = [
  ['src/cli', /\bcli_errorf\(/],
  ['src/lib/config.c', /\bconfig_seterr\([^,]+,[^,]+,\s*/],
  ['src/parse/aggregate.c', /\bagg_(?:fail|warnf)\(a,\s*/],
  ['src/parse/aggregate_filter.c', /\bfilter_warn(?:f|_now)\(f,\s*/],
  ['src/analyze/analyze.c', /\banalyze_seterr\(/],
  ['src/analyze/readiness.c', /\banalyze_seterr\(/],
];
const { readdirSync, statSync } = await import('node:fs');
const files = (p) => (statSync(src + '/' + p).isDirectory()
  ? readdirSync(src + '/' + p).filter((f) => f.endsWith('.c')).map((f) => p + '/' + f) : [p]);
let formats = 0;
for (const [where, call] of calls) {
  for (const f of files(where)) {
    const text = readFileSync(src + '/' + f, 'utf8');
    const re = new RegExp(call.source + '((?:"(?:[^"\\\\]|\\\\.)*"\\s*)+)', 'g');
    for (const m of text.matchAll(re)) {
      const fmt = [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('')
        .replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      let k = 0;
      const sample = fmt.replace(/%(?:\.\*)?[-0-9.]*(?:ll|l|z)?([sdux%])/g, (all, c) =>
        (c === '%' ? '%' : (c === 's' ? 'Q' : '7') + String(++k)));
      const words = sample.replace(/Q\d+|7\d+/g, '').replace(/^([a-z][a-z ]*: )+/, '');
      if (!/[a-z]{3}/i.test(words)) continue;
      formats++;
      if (reasons.reasonText(sample) === sample) {
        console.error(`reasons.js: no Japanese for ${f}: "${fmt}" (as "${sample}")`);
        failed++;
      }
    }
  }
}
if (formats < 60) {
  console.error(`reasons.js: only ${formats} message formats found in the sources`);
  failed++;
}

// English viewers see the stored text
await i18n.setLang('en', false);
expect('DTD not allowed', 'DTD not allowed');

if (failed) process.exit(1);
console.log(`reasons.js: ${doc.reasons.length} entries and the examples agree with the C rules; ${formats} message formats of the sources have Japanese`);
