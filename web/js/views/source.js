// views/source.js - drill-down of one source IP: what we know about it and
// the records (with their reports) behind its numbers.
import { h, mount, table } from '../dom.js';
import { t, num, date } from '../i18n.js';
import * as api from '../api.js';
import { resultBadge, dispositionBadge, pager, rangeLine, intOrNull, section } from './common.js';

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
    const d = await api.get('sources/' + encodeURIComponent(ip) + '/records', { since: range.since, until: range.until,
      domain: params.domain, reporter: params.reporter, result: params.result, limit: PAGE, offset });
    if (ctx.stale()) return;
    const info = d.info || {};
    const facts = [
      [t('source.hostname'), info.hostname || t('sources.no_ptr')],
      [t('source.fcrdns'), info.fcrdns === 1 ? t('common.yes') : info.fcrdns === 0 ? t('common.no') : '—'],
      [t('source.asn'), info.asn ? 'AS' + info.asn + (info.as_name ? ' ' + info.as_name : '') : '—'],
      [t('source.country'), info.country || '—'],
    ];
    mount(ctx.main,
      h('p', { class: 'crumbs' }, h('a', { href: ctx.link('sources', null) }, t('nav.sources')), ' › '),
      h('h1', { class: 'mono' }, ip),
      rangeLine(ctx),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
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
