// views/source.js - drill-down of one source IP: what we know about it
// (host, group, service, ASN, country, class with every reason and the
// advice), the user's approve / tag / reject actions for it, and the
// records (with their reports) behind its numbers.
import { h, mount, table } from '../dom.js';
import { t, num, date } from '../i18n.js';
import * as api from '../api.js';
import { resultBadge, dispositionBadge, pager, rangeLine, intOrNull, section } from './common.js';
import { classBadge, reasonText, hostCell, asnText, countryName, serviceText, groupText, addRule } from '../intel.js';

// What the classification says, and the actions.
function intelCard(ctx, s, rerender) {
  if (!s) return null;
  const status = h('span', { class: 'rule-status', role: 'status' });
  const tagIn = h('input', { type: 'text', id: 'tag-name', maxlength: 64, placeholder: t('rules.tag'), 'aria-label': t('rules.tag') });
  const scope = h('input', { type: 'checkbox', id: 'rule-domain-only', checked: null });
  const forDomain = ctx.params.domain || (s.header_from && s.header_from.length === 1 ? s.header_from[0].domain : null);
  const rule = (action, kind, pattern, tag) => addRule({ action, kind, pattern, tag: tag || null,
    domain: scope.checked && forDomain ? forDomain : null }, status, rerender);
  const actions = h('div', { class: 'rule-actions', id: 'source-actions' },
    s.approved ? h('span', { class: 'badge ok' }, t('rules.approved')) :
      h('button', { type: 'button', id: 'approve-ip', onclick: () => rule('approve', 'ip', s.ip) }, t('rules.approve_ip')),
    s.ptr && s.fcrdns ? h('button', { type: 'button', id: 'approve-host', onclick: () => rule('approve', 'host', s.ptr) }, t('rules.approve_host')) : null,
    s.service ? h('button', { type: 'button', id: 'approve-service', onclick: () => rule('approve', 'service', s.service) }, t('rules.approve_service', { service: serviceText(s) })) : null,
    s.rejected ? h('span', { class: 'badge bad' }, t('rules.rejected')) :
      h('button', { type: 'button', id: 'reject-ip', onclick: () => rule('reject', 'ip', s.ip) }, t('rules.reject_ip')),
    h('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); if (tagIn.value.trim()) rule('tag', 'ip', s.ip, tagIn.value.trim()); } },
      tagIn, h('button', { type: 'submit', id: 'tag-ip' }, t('rules.tag_ip'))),
    forDomain ? h('label', { class: 'toggle' }, scope, t('rules.only_domain', { domain: forDomain })) : null,
    status);
  const facts = [
    [t('col.class'), classBadge(s.class)],
    [t('col.reason'), reasonText(s.reason) || '—'],
    s.detail ? [t('intel.detail'), reasonText(s.detail)] : null,
    s.advice ? [t('intel.advice'), h('strong', null, reasonText(s.advice))] : null,
    [t('col.group'), groupText(s)],
    [t('col.service'), serviceText(s)],
    [t('col.tags'), s.tags && s.tags.length ? s.tags.join(', ') : '—'],
  ].filter(Boolean);
  return section(t('source.intel'),
    h('dl', { class: 'facts', id: 'source-intel' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    s.reasons && s.reasons.length > 1 ? table([
      { key: 'class', label: t('col.class'), render: (b) => classBadge(b.class) },
      { key: 'messages', label: t('col.messages'), num: true, render: (b) => num(b.messages) },
      { key: 'reason', label: t('col.reason'), render: (b) => reasonText(b.reason) || '—' },
    ], s.reasons, { compact: true }) : null,
    actions);
}

const PAGE = 100;

export function authList(items, kind) {
  if (!items || !items.length) return '—';
  return h('ul', { class: 'inline-list' }, items.map((a) => h('li', null,
    resultBadge(a.result === 'pass' ? 'pass' : a.result === 'fail' ? 'fail' : null), ' ',
    (a.domain || '?') + (kind === 'dkim' && a.selector ? ' s=' + a.selector : '') + (a.result && a.result !== 'pass' && a.result !== 'fail' ? ' (' + a.result + ')' : ''))));
}

export function reasonList(items) {
  if (!items || !items.length) return null;
  return h('ul', { class: 'inline-list' }, items.map((x) => h('li', null, x.type + (x.comment ? ': ' + x.comment : ''))));
}

export default {
  name: 'source',
  navParent: 'sources',
  filters: ['domain', 'range', 'reporter', 'result'],
  async render(ctx) {
    const ip = ctx.path[1];
    const { range, params } = ctx;
    const offset = intOrNull(params.offset) || 0;
    const [d, intel] = await Promise.all([
      api.get('sources/' + encodeURIComponent(ip) + '/records', { since: range.since, until: range.until,
        domain: params.domain, reporter: params.reporter, result: params.result, limit: PAGE, offset }),
      api.get('senders/sources', { since: range.since, until: range.until, domain: params.domain,
        reporter: params.reporter, source: ip, limit: 1 }).catch(() => null)]);
    if (ctx.stale()) return;
    const info = d.info || {};
    const s = intel && intel.sources && intel.sources[0];
    const facts = [
      [t('source.hostname'), s ? hostCell(s) : info.hostname || t('sources.no_ptr')],
      [t('source.fcrdns'), info.fcrdns === 1 ? t('common.yes') : info.fcrdns === 0 ? t('common.no') : '—'],
      [t('source.asn'), s ? asnText(s) : info.asn ? 'AS' + info.asn + (info.as_name ? ' ' + info.as_name : '') : '—'],
      [t('source.country'), info.country ? info.country + ' ' + countryName(info.country) : '—'],
    ];
    const rerender = async () => { if (!ctx.stale()) ctx.update({}); };
    mount(ctx.main,
      h('p', { class: 'crumbs' }, h('a', { href: ctx.link('sources', null) }, t('nav.sources')), ' › '),
      h('h1', { class: 'mono' }, ip),
      rangeLine(ctx),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      intelCard(ctx, s, rerender),
      section(t('source.records'), table([
        { key: 'report', label: t('col.report'), render: (r) => h('a', { href: ctx.link('report', r.report) }, r.report_id) },
        { key: 'reporter', label: t('col.reporter'), render: (r) => r.reporter },
        { key: 'domain', label: t('col.domain'), render: (r) => r.domain },
        { key: 'begin_ts', label: t('col.period'), render: (r) => date(r.begin_ts) + ' – ' + date(r.end_ts) },
        { key: 'count', label: t('col.messages'), num: true, render: (r) => num(r.count) },
        { key: 'dmarc', label: t('col.dmarc'), render: (r) => resultBadge(r.dmarc) },
        { key: 'disposition', label: t('col.disposition'), render: (r) => dispositionBadge(r.disposition) },
        { key: 'header_from', label: t('col.header_from'), render: (r) => r.header_from },
        { key: 'envelope_from', label: t('col.envelope_from'), render: (r) => r.envelope_from || '—' },
        { key: 'dkim', label: t('col.dkim'), render: (r) => authList(r.dkim, 'dkim') },
        { key: 'spf', label: t('col.spf'), render: (r) => authList(r.spf, 'spf') },
        { key: 'reasons', label: t('col.reasons'), render: (r) => reasonList(r.reasons) || '—' },
      ], d.records, { empty: t('source.no_records'), compact: true }),
      pager(ctx, d.total, PAGE, offset)));
  },
};
