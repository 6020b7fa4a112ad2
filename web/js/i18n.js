// i18n.js - message catalogs (web/i18n/LANG.json, files, not strings in
// code), number / percent / date formatting with Intl, and the viewer's
// language and time-zone preferences (remembered in localStorage).
//
// Time zones: data is stored in UTC and the API returns UTC day buckets as
// epoch seconds.  The browser assigns each bucket to the calendar date of
// its midpoint (bucket + 12 h) in the viewer's zone; for every zone within
// UTC-11..UTC+11 that is the bucket's own UTC date.  Ranges sent to the API
// are local midnights; the API counts a bucket when its midpoint is inside.

const LANGS = ['en', 'ja'];
let lang = 'en';
let catalog = {};
let fallback = {};
let tz = 'UTC';
let tzChosen = false;

export function detectLang() {
  const saved = localStorage.getItem('dmarcstat.lang');
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

function defaultZone(l) { return l === 'ja' ? 'Asia/Tokyo' : browserZone(); }

async function loadCatalog(l) {
  const r = await fetch('/i18n/' + l + '.json');
  if (!r.ok) throw new Error('catalog ' + l + ': HTTP ' + r.status);
  return r.json();
}

export async function setLang(l, remember) {
  if (!LANGS.includes(l)) l = 'en';
  const [cat, en] = await Promise.all([loadCatalog(l), l === 'en' ? null : loadCatalog('en')]);
  catalog = cat;
  fallback = en || cat;
  lang = l;
  if (remember) localStorage.setItem('dmarcstat.lang', l);
  document.documentElement.lang = l;
  const savedTz = localStorage.getItem('dmarcstat.tz');
  tzChosen = !!savedTz && validZone(savedTz);
  tz = tzChosen ? savedTz : defaultZone(l);
}

export function getLang() { return lang; }
export function getZone() { return tz; }
export function zoneChosen() { return tzChosen; }

export function validZone(z) {
  try { new Intl.DateTimeFormat('en', { timeZone: z }); return true; } catch { return false; }
}

export function setZone(z) {
  if (!validZone(z)) return;
  tz = z;
  tzChosen = true;
  localStorage.setItem('dmarcstat.tz', z);
}

export function zones() {
  let list = [];
  try { list = Intl.supportedValuesOf('timeZone'); } catch { list = []; }
  for (const z of ['UTC', 'Asia/Tokyo', browserZone(), tz]) if (!list.includes(z)) list.unshift(z);
  return list;
}

// t('key', {n: 3}) - a string from the catalog with {name} placeholders.
// A value may be {"one": ..., "other": ...}, chosen by params.count or the
// first numeric parameter.  Missing keys fall back to English, then the key.
export function t(key, params) {
  let v = catalog[key];
  if (v === undefined) v = fallback[key];
  if (v === undefined) return key;
  if (typeof v === 'object') {
    const n = params ? (params.count ?? Object.values(params).find((x) => typeof x === 'number')) : undefined;
    const cat = n === undefined ? 'other' : new Intl.PluralRules(lang).select(n);
    v = v[cat] ?? v.other;
  }
  if (!params) return v;
  return v.replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in params)) return m;
    const p = params[name];
    if (p === null || p === undefined) return '—';
    if (typeof p === 'number') return name.endsWith('pct') ? pct(p) : num(p);
    return String(p);
  });
}

const numFmt = new Map();
export function num(n) {
  if (n === null || n === undefined) return '—';
  let f = numFmt.get(lang);
  if (!f) { f = new Intl.NumberFormat(lang); numFmt.set(lang, f); }
  return f.format(n);
}

// p is a percentage 0..100 (the API floors it to 0.1).
export function pct(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return '—';
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1, minimumFractionDigits: 0 })
    .format(p / 100);
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return new Intl.NumberFormat(lang, { maximumFractionDigits: i ? 1 : 0 }).format(n) + ' ' + u[i];
}

// Dates of epoch seconds in the viewer's zone.
export function date(ts) {
  if (!ts && ts !== 0) return '—';
  return new Intl.DateTimeFormat(lang, { timeZone: tz, year: 'numeric', month: 'short', day: 'numeric' })
    .format(new Date(ts * 1000));
}

export function dateTime(ts) {
  if (!ts && ts !== 0) return '—';
  return new Intl.DateTimeFormat(lang, { timeZone: tz, year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit' }).format(new Date(ts * 1000));
}

export function shortDate(ts) {
  return new Intl.DateTimeFormat(lang, { timeZone: tz, month: 'short', day: 'numeric' })
    .format(new Date(ts * 1000));
}

export function monthName(y, m) {
  return new Intl.DateTimeFormat(lang, { timeZone: 'UTC', year: 'numeric', month: 'long' })
    .format(new Date(Date.UTC(y, m - 1, 15)));
}

// Fills static elements marked data-i18n="key" (the page shell).
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}
