// views/common.js - pieces shared by the views: policy text, result
// badges, percentages with a bar, advice lists, pagers, empty states.
import { h } from '../dom.js';
import { t, num, pct, date } from '../i18n.js';

export function policyText(p) {
  if (!p || !p.p) return t('policy.unknown');
  const parts = ['p=' + p.p];
  if (p.sp) parts.push('sp=' + p.sp);
  if (p.np) parts.push('np=' + p.np);
  if (p.pct !== null && p.pct !== undefined && p.pct !== 100) parts.push('pct=' + p.pct);
  if (p.testing) parts.push('t=' + p.testing);
  return parts.join('; ');
}

export function policyBadge(p) {
  const v = p && p.p;
  const kind = v === 'reject' ? 'ok' : v === 'quarantine' ? 'info' : v === 'none' ? 'warn' : 'muted';
  return h('span', { class: 'policy' }, h('span', { class: 'badge ' + kind }, v ? 'p=' + v : t('policy.unknown')),
    p && p.p ? h('span', { class: 'policy-rest' }, policyText(p).replace(/^p=[a-z]+;? ?/, '')) : null);
}

// A percentage with a small bar; level by threshold.
export function pctBar(v, { good = 98, warn = 90 } = {}) {
  const level = v === null || v === undefined ? 'muted' : v >= good ? 'ok' : v >= warn ? 'warn' : 'bad';
  return h('span', { class: 'pct ' + level }, h('span', { class: 'pct-num' }, pct(v)),
    h('meter', { min: 0, max: 100, low: warn, high: good, optimum: 100, value: v ?? 0, 'aria-hidden': 'true' }));
}

export function resultBadge(r) {
  const kind = r === 'pass' ? 'ok' : r === 'fail' ? 'bad' : 'muted';
  return h('span', { class: 'badge ' + kind }, t('eval.' + (r || 'unknown')));
}

export function dispositionBadge(d) {
  const kind = d === 'reject' ? 'bad' : d === 'quarantine' ? 'warn' : 'muted';
  return h('span', { class: 'badge ' + kind }, t('disposition.' + (d || 'unknown')));
}

export function levelIcon(level) {
  const map = { ok: '✓', warn: '!', bad: '✕', action: '→', info: 'i', none: '·' };
  return h('span', { class: 'icon lvl-' + level, 'aria-hidden': 'true' }, map[level] || '·');
}

export function adviceList(advice) {
  return h('ol', { class: 'advice' }, (advice || []).map((a) =>
    h('li', { class: 'lvl-' + a.level, dataset: { key: a.key } }, levelIcon(a.level),
      h('span', null, t(a.key === 'advice.check_source' && !a.params.hostname ? 'advice.check_source_nohost' : a.key, a.params)))));
}

export function emptyState(title, body, actions) {
  return h('div', { class: 'empty-state' }, h('h2', null, title), body ? h('p', null, body) : null,
    actions ? h('p', { class: 'actions' }, actions) : null);
}

// "No reports yet" - what to do.
export function noReports(link) {
  return emptyState(t('empty.no_reports_title'), t('empty.no_reports_body'), [
    h('code', { class: 'rua' }, 'v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com'), ' ',
    h('a', { class: 'button', href: link('upload', null) }, t('empty.upload_files'))]);
}

// No data in the period, but there is some elsewhere.
export function noDataInRange(ctx) {
  const last = ctx.meta?.extent?.last_day;
  const actions = [];
  if (last) {
    const to = new Date((last + 43200) * 1000).toISOString().slice(0, 10);
    const from = new Date((last + 43200 - 29 * 86400) * 1000).toISOString().slice(0, 10);
    actions.push(h('a', { class: 'button', href: ctx.link(ctx.path[0] || 'overview', ctx.path[1] ?? null,
      { range: 'custom', from, to }) }, t('empty.show_latest')));
  }
  return emptyState(t('empty.no_data_title'), last ? t('empty.no_data_body', { date: date(last) }) :
    t('empty.no_data_body_none'), actions);
}

export function pager(ctx, total, limit, offset) {
  if (total <= limit && !offset) return null;
  const from = total ? offset + 1 : 0, to = Math.min(total, offset + limit);
  return h('nav', { class: 'pager', 'aria-label': t('pager.label') },
    h('button', { type: 'button', disabled: offset <= 0 ? true : null, dataset: { page: 'prev' },
      onclick: () => ctx.update({ offset: Math.max(0, offset - limit) || null }) }, t('pager.prev')),
    h('span', null, t('pager.range', { from, to, total })),
    h('button', { type: 'button', disabled: offset + limit >= total ? true : null, dataset: { page: 'next' },
      onclick: () => ctx.update({ offset: offset + limit }) }, t('pager.next')));
}

export function tiles(items) {
  return h('div', { class: 'tiles' }, items.map(([label, value, sub, level]) =>
    h('div', { class: 'tile' + (level ? ' lvl-' + level : '') }, h('div', { class: 'tile-label' }, label),
      h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub' }, sub) : null)));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

export function rangeLine(ctx) {
  return h('p', { class: 'range-line' }, t('common.period', { from: ctx.range.from, to: ctx.range.to }));
}

export function intOrNull(v) {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

export { num, pct, date };
