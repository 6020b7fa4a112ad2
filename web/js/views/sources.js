// views/sources.js - one row per sending IP: hostname, messages, results,
// header_from / envelope_from, DKIM domains and selectors.  Sorted and paged
// by the API; "only failures" keeps IPs with DMARC-failing mail.  A row
// drills down to the records and reports behind it (views/source.js).
import { h, mount, table } from '../dom.js';
import { t, num, pct } from '../i18n.js';
import * as api from '../api.js';
import { pctBar, pager, rangeLine, intOrNull, emptyState } from './common.js';

const PAGE = 50;

function list(values, more) {
  if (!values || !values.length) return '—';
  return h('ul', { class: 'inline-list' }, values.map((v) => h('li', null, v)),
    more ? h('li', { class: 'muted' }, t('common.more', { count: more })) : null);
}

export default {
  name: 'sources',
  nav: true,
  filters: ['domain', 'range', 'reporter', 'result'],
  async render(ctx) {
    const { range, params } = ctx;
    const sort = ['ip', 'messages', 'fail', 'pass_pct', 'hostname', 'reporters'].includes(params.sort) ? params.sort : 'messages';
    const order = params.order === 'asc' ? 'asc' : 'desc';
    const offset = intOrNull(params.offset) || 0;
    const only = params.only_failures === '1';
    const d = await api.get('sources', { since: range.since, until: range.until, domain: params.domain,
      reporter: params.reporter, result: params.result, only_failures: only, sort, order, limit: PAGE, offset });
    if (ctx.stale()) return;
    const cols = [
      { key: 'ip', label: t('col.ip'), sort: true,
        render: (r) => h('a', { href: ctx.link('source', r.ip), class: 'mono strong' }, r.ip) },
      { key: 'hostname', label: t('col.hostname'), sort: true, render: (r) => r.hostname || h('span', { class: 'muted' }, t('sources.no_ptr')) },
      { key: 'messages', label: t('col.messages'), num: true, sort: true, render: (r) => num(r.messages) },
      { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, sort: true, render: (r) => pctBar(r.pass_pct) },
      { key: 'fail', label: t('col.failing'), num: true, sort: true, render: (r) => num(r.fail) },
      { key: 'spf_aligned_pct', label: t('col.spf_aligned'), num: true, render: (r) => pct(r.spf_aligned_pct) },
      { key: 'dkim_aligned_pct', label: t('col.dkim_aligned'), num: true, render: (r) => pct(r.dkim_aligned_pct) },
      { key: 'header_from', label: t('col.header_from'), render: (r) => list(r.header_from, r.header_from_more) },
      { key: 'envelope_from', label: t('col.envelope_from'), render: (r) => list(r.envelope_from) },
      { key: 'dkim', label: t('col.dkim_signatures'), render: (r) => list((r.dkim || []).map((k) =>
        (k.domain || '?') + (k.selector ? ' (s=' + k.selector + ')' : ''))) },
      { key: 'reporters', label: t('col.reporters'), num: true, sort: true, render: (r) => num(r.reporters) },
    ];
    const toggle = h('label', { class: 'toggle' }, h('input', { type: 'checkbox', id: 'only-failures', checked: only ? true : null,
      onchange: (e) => ctx.update({ only_failures: e.target.checked ? 1 : null, offset: null }) }), t('sources.only_failures'));
    mount(ctx.main,
      h('h1', null, t('sources.title')),
      rangeLine(ctx),
      h('div', { class: 'toolbar' }, toggle, h('span', { class: 'muted' }, t('sources.count', { count: d.total }))),
      d.total === 0 ? emptyState(t('sources.empty_title'), only ? t('sources.empty_failures') : t('sources.empty_body')) :
        h('section', { class: 'card' }, table(cols, d.sources, {
          sort, order, onSort: (k) => ctx.update({ sort: k, order: k === sort && order === 'desc' ? 'asc' : 'desc', offset: null }),
          rowClass: (r) => (r.fail ? 'has-fail' : null),
        }), pager(ctx, d.total, PAGE, offset)),
      h('p', { class: 'hint' }, t('sources.hint')));
  },
};
