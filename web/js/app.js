// app.js - the dashboard shell: hash router, shared filters, navigation,
// language and time-zone preferences.  One module per view in views/; a
// view exports {name, nav, filters, render(ctx)}.  To add a view, write
// views/NAME.js and list it in VIEWS below.
//
// URLs keep every filter, so a link can be shared:
//   #/VIEW[/ARG]?range=30|7|90|365|custom&from=YYYY-MM-DD&to=YYYY-MM-DD
//                &domain=...&reporter=...&result=pass|fail&...view-specific
// Dates in the URL are calendar dates in the viewer's time zone.
import { h, mount } from './dom.js';
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import * as api from './api.js';
import { loadReasons } from './reasons.js';
import { resolveRange, validYmd } from './time.js';

import overview from './views/overview.js';
import domain from './views/domain.js';
import senders from './views/senders.js';
import sources from './views/sources.js';
import source from './views/source.js';
import reporters from './views/reporters.js';
import reports from './views/reports.js';
import report from './views/report.js';
import ledger from './views/ledger.js';
import upload from './views/upload.js';
import print from './views/print.js';

const VIEWS = [overview, domain, senders, sources, source, reporters, reports, report, ledger, upload, print];
const byName = new Map(VIEWS.map((v) => [v.name, v]));
const COMMON = ['range', 'from', 'to', 'domain', 'reporter', 'result'];

let meta = null;
let token = 0;

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean).map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
  const params = Object.fromEntries(new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)));
  return { path, params };
}

// '#/view/arg?...' keeping the common filters of `params` plus `extra`.
export function link(view, arg, params, extra) {
  const p = new URLSearchParams();
  for (const k of COMMON) if (params && params[k]) p.set(k, params[k]);
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === null || v === undefined || v === '') p.delete(k); else p.set(k, String(v));
  }
  const s = p.toString();
  return '#/' + view + (arg !== null && arg !== undefined ? '/' + encodeURIComponent(arg) : '') + (s ? '?' + s : '');
}

function go(hash) { if (location.hash !== hash) location.hash = hash; else route(); }

function renderNav(active, params) {
  const items = VIEWS.filter((v) => v.nav);
  mount(document.getElementById('nav'), h('ul', null, items.map((v) => {
    const cur = v.name === active || (v.navParent && v.navParent === active) ||
      (byName.get(active) && byName.get(active).navParent === v.name);
    return h('li', null, h('a', { href: link(v.name, null, params), 'aria-current': cur ? 'page' : null,
      dataset: { nav: v.name } }, t('nav.' + v.name)));
  })));
}

function option(value, label, selected) {
  return h('option', { value, selected: selected ? true : null }, label);
}

function renderFilters(view, path, params) {
  const el = document.getElementById('filters');
  const f = view.filters || [];
  if (!f.length) { mount(el); el.hidden = true; return; }
  el.hidden = false;
  // a filter change keeps the view's own parameters (a search, a class) and goes to page 1
  const update = (extra) => go(link(view.name, path[1] ?? null, params, { ...params, ...extra, offset: null }));
  const parts = [];
  if (f.includes('domain')) {
    parts.push(h('label', null, h('span', null, t('filter.domain')),
      h('select', { id: 'f-domain', onchange: (e) => update({ domain: e.target.value }) },
        option('', t('filter.all_domains'), !params.domain),
        (meta?.domains || []).map((d) => option(d.domain, d.domain, d.domain === params.domain)))));
  }
  if (f.includes('reporter')) {
    parts.push(h('label', null, h('span', null, t('filter.reporter')),
      h('select', { id: 'f-reporter', onchange: (e) => update({ reporter: e.target.value }) },
        option('', t('filter.all_reporters'), !params.reporter),
        (meta?.reporters || []).map((r) => option(r.reporter, r.reporter, r.reporter === params.reporter)))));
  }
  if (f.includes('result')) {
    parts.push(h('label', null, h('span', null, t('filter.result')),
      h('select', { id: 'f-result', onchange: (e) => update({ result: e.target.value }) },
        option('', t('filter.all_results'), !params.result),
        option('pass', t('filter.pass'), params.result === 'pass'),
        option('fail', t('filter.fail'), params.result === 'fail'))));
  }
  if (f.includes('range')) {
    const range = resolveRange(params, nowTs());
    const cur = params.range === 'custom' ? 'custom' : (['7', '30', '90', '365'].includes(params.range) ? params.range : '30');
    const from = h('input', { type: 'date', id: 'f-from', value: range.from, 'aria-label': t('filter.from') });
    const to = h('input', { type: 'date', id: 'f-to', value: range.to, 'aria-label': t('filter.to') });
    parts.push(h('div', { class: 'presets', role: 'group', 'aria-label': t('filter.period') },
      ['7', '30', '90', '365'].map((n) => h('button', { type: 'button', class: cur === n ? 'on' : null,
        'aria-pressed': cur === n ? 'true' : 'false', dataset: { range: n },
        onclick: () => update({ range: n, from: null, to: null }) }, t('filter.days', { count: Number(n) })))));
    parts.push(h('form', { class: 'custom', onsubmit: (e) => {
      e.preventDefault();
      if (validYmd(from.value) && validYmd(to.value) && from.value <= to.value)
        update({ range: 'custom', from: from.value, to: to.value });
    } }, from, h('span', { 'aria-hidden': 'true' }, '–'), to,
    h('button', { type: 'submit', id: 'f-apply', class: cur === 'custom' ? 'on' : null }, t('filter.apply'))));
  }
  mount(el, h('div', { class: 'filter-row' }, parts));
}

export function nowTs() { return meta?.now || Math.floor(Date.now() / 1000); }
export function getMeta() { return meta; }
export async function refreshMeta() { meta = await api.get('meta'); return meta; }

function errorBox(e) {
  const msg = e instanceof api.ApiError ? t('error.api', { status: e.status || '—', message: e.message }) : String(e.message || e);
  return h('div', { class: 'notice bad', role: 'alert' }, h('strong', null, t('error.title')), ' ', msg);
}

async function route() {
  const my = ++token;
  document.body.dataset.ready = '0';
  const { path, params } = parseHash();
  const view = byName.get(path[0] || 'overview');
  const main = document.getElementById('main');
  document.body.classList.toggle('print-mode', view === print);
  if (!view) {
    renderNav('', params);
    renderFilters({ filters: [] }, path, params);
    mount(main, h('div', { class: 'notice' }, t('error.no_view'), ' ', h('a', { href: '#/overview' }, t('nav.overview'))));
    document.body.dataset.view = 'none';
    document.body.dataset.ready = '1';
    return;
  }
  renderNav(view.name, params);
  renderFilters(view, path, params);
  const ctx = {
    main, path, params, meta, t, now: nowTs(),
    range: resolveRange(params, nowTs()),
    stale: () => my !== token,
    link: (v, arg, extra) => link(v, arg, params, extra),
    go,
    // the same view with some parameters changed: the others stay (paging
    // keeps "only failures", a class, a sort order, a Report-ID search)
    update: (extra) => go(link(view.name, path[1] ?? null, params, { ...params, ...extra })),
    refreshMeta,
  };
  document.title = t('nav.' + (view.nav ? view.name : view.navParent || view.name)) + ' · dmarcstat';
  try {
    await view.render(ctx);
  } catch (e) {
    if (my !== token) return;
    console.warn('view failed:', e);
    mount(main, errorBox(e));
  }
  if (my !== token) return;
  document.body.dataset.view = view.name;
  document.body.dataset.ready = '1';
}

function renderPrefs() {
  const langSel = document.getElementById('pref-lang');
  langSel.value = i18n.getLang();
  const tzSel = document.getElementById('pref-tz');
  const zones = i18n.zones();
  mount(tzSel, zones.map((z) => option(z, z, z === i18n.getZone())));
  i18n.applyStatic();
  mount(document.getElementById('foot-note'), t('footer.note', { tz: i18n.getZone(), version: meta?.version || '' }));
}

async function boot() {
  await Promise.all([i18n.setLang(i18n.detectLang(), false), loadReasons()]);
  try { await refreshMeta(); } catch (e) { meta = null; console.warn('meta:', e.message); }
  renderPrefs();
  document.getElementById('pref-lang').addEventListener('change', async (e) => {
    await i18n.setLang(e.target.value, true);
    renderPrefs();
    route();
  });
  document.getElementById('pref-tz').addEventListener('change', (e) => {
    i18n.setZone(e.target.value);
    renderPrefs();
    route();
  });
  window.addEventListener('hashchange', route);
  await route();
}

boot();
