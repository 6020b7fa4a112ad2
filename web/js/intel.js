// intel.js - pieces of the sender-intelligence views (senders, sources,
// source, domain readiness): class badges and breakdown bars, reasons in
// the viewer's language, host / ASN / country cells, approve / reject / tag
// actions.  Reasons come from the API with both languages
// ({code, params, messages: {en, ja}}); they are shown as text.
import { h } from './dom.js';
import { t, num, getLang } from './i18n.js';
import * as api from './api.js';

export const CLASSES = ['legitimate', 'misconfigured', 'forwarded', 'spoofing', 'unknown'];

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

export function classBadge(cls) {
  const c = CLASSES.includes(cls) ? cls : 'unknown';
  return h('span', { class: 'badge cls cls-' + c, dataset: { class: c } }, t('class.' + c));
}

// A stacked bar of messages per class, with the numbers in its title and
// aria-label (colour is never the only cue).
export function classBar(classes, { width = 120 } = {}) {
  const total = CLASSES.reduce((s, c) => s + ((classes && classes[c]) || 0), 0);
  const label = CLASSES.filter((c) => classes && classes[c]).map((c) => t('class.' + c) + ' ' + num(classes[c])).join(', ') || '—';
  const bar = svg('svg', { class: 'cls-bar', width, height: 10, viewBox: `0 0 ${width} 10`, role: 'img', 'aria-label': label });
  bar.appendChild(svg('title', null, label));
  let x = 0;
  for (const c of CLASSES) {
    const v = (classes && classes[c]) || 0;
    if (!v || !total) continue;
    const w = (v / total) * width;
    bar.appendChild(svg('rect', { x: x.toFixed(2), y: 0, width: Math.max(w, 1).toFixed(2), height: 10, class: 'fill-' + c }));
    x += w;
  }
  return bar;
}

export function classLegend() {
  return h('ul', { class: 'cls-legend' }, CLASSES.map((c) =>
    h('li', null, h('span', { class: 'swatch fill-bg-' + c, 'aria-hidden': 'true' }), t('class.' + c))));
}

export function reasonText(reason) {
  if (!reason) return null;
  const m = reason.messages || {};
  return m[getLang()] || m.en || reason.code || null;
}

export function hostCell(r) {
  if (r.ptr) {
    const conf = r.fcrdns === true || r.fcrdns === 1 ? h('span', { class: 'badge ok', title: t('intel.fcrdns_ok') }, '✓')
      : r.fcrdns === false || r.fcrdns === 0 ? h('span', { class: 'badge warn', title: t('intel.fcrdns_bad') }, t('intel.not_confirmed')) : null;
    return h('span', { class: 'host' }, h('span', { class: 'mono break' }, r.ptr), ' ', conf);
  }
  const st = r.ptr_status || 'pending';
  return h('span', { class: 'muted' }, t('ptr_status.' + (['ok', 'nxdomain', 'timeout', 'servfail', 'error', 'unresolved', 'pending'].includes(st) ? st : 'error')));
}

export function asnText(r) {
  if (!r.asn) return '—';
  return 'AS' + r.asn + (r.as_name ? ' ' + r.as_name : '');
}

let regionNames = null, regionLang = null;
export function countryName(cc) {
  if (!cc) return t('intel.no_country');
  try {
    if (!regionNames || regionLang !== getLang()) {
      regionNames = new Intl.DisplayNames([getLang()], { type: 'region' });
      regionLang = getLang();
    }
    return regionNames.of(cc) || cc;
  } catch { return cc; }
}

export function countryCell(cc) {
  if (!cc) return h('span', { class: 'muted' }, '—');
  return h('span', { title: countryName(cc) }, h('span', { class: 'mono' }, cc), ' ', h('span', { class: 'muted small' }, countryName(cc)));
}

export function serviceText(r) {
  const lang = getLang();
  if (!r.service_name && !r.service) return '—';
  if (lang === 'ja' && r.service_name_ja) return r.service_name_ja;
  return r.service_name || r.service;
}

export function groupText(r) {
  return r.group_name || r.group || '—';
}

// Adds a rule; `after` re-renders.  Errors are shown next to the control.
export async function addRule(rule, statusEl, after) {
  if (statusEl) { statusEl.textContent = t('rules.saving'); statusEl.className = 'rule-status muted'; }
  try {
    await api.send('POST', 'rules', rule);
    if (statusEl) statusEl.textContent = '';
    if (after) await after();
  } catch (e) {
    if (statusEl) { statusEl.textContent = t('rules.failed', { message: e.message }); statusEl.className = 'rule-status bad-text'; }
  }
}

// Approve / reject buttons for one source IP (sources table, groups).
export function ipActions(r, after) {
  const status = h('span', { class: 'rule-status', role: 'status' });
  if (r.rejected) return h('span', null, h('span', { class: 'badge bad' }, t('rules.rejected')));
  if (r.approved) return h('span', null, h('span', { class: 'badge ok' }, t('rules.approved')));
  return h('span', { class: 'row-actions' },
    h('button', { type: 'button', class: 'small', dataset: { approve: r.ip }, title: t('rules.approve_ip_title', { ip: r.ip }),
      onclick: () => addRule({ action: 'approve', kind: 'ip', pattern: r.ip }, status, after) }, t('rules.approve')),
    status);
}
