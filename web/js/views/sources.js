// views/sources.js - one row per sending IP with what enrichment and the
// classification say about it: host name (forward-confirmed or not),
// sender group, known service, ASN, country, class and the reason in the
// viewer's language, messages and DMARC results.  Filter by class (chips
// with counts), by failures, by country / group / service (from the
// Senders view and the map); sorted and paged by the API
// (/api/senders/sources).  A row drills down to the records behind it
// (views/source.js); "Approve" adds an approve rule for the IP at once.
import { h, mount, table } from '../dom.js';
import { t, num } from '../i18n.js';
import * as api from '../api.js';
import { pctBar, pager, rangeLine, intOrNull, emptyState } from './common.js';
import { CLASSES, classBadge, reasonText, hostCell, asnText, countryCell, countryName, serviceText, groupText, ipActions } from '../intel.js';

const PAGE = 50;
const SORTS = ['ip', 'host', 'group', 'service', 'asn', 'country', 'class', 'messages', 'pass', 'fail'];

function fromList(values) {
  if (!values || !values.length) return '—';
  return h('ul', { class: 'inline-list' }, values.slice(0, 3).map((v) => h('li', null, typeof v === 'string' ? v : v.domain)),
    values.length > 3 ? h('li', { class: 'muted' }, t('common.more', { count: values.length - 3 })) : null);
}

export default {
  name: 'sources',
  nav: true,
  filters: ['domain', 'range', 'reporter'],
  async render(ctx) {
    const { range, params } = ctx;
    const sort = SORTS.includes(params.sort) ? params.sort : 'messages';
    const order = params.order === 'asc' || params.order === 'desc' ? params.order :
      (['messages', 'pass', 'fail'].includes(sort) ? 'desc' : 'asc');
    const offset = intOrNull(params.offset) || 0;
    const only = params.only_failures === '1';
    const cls = CLASSES.includes(params.class) ? params.class : null;
    const country = /^([A-Z]{2}|none)$/.test(params.country || '') ? params.country : null;
    const d = await api.get('senders/sources', { since: range.since, until: range.until, domain: params.domain,
      reporter: params.reporter, class: cls, only_failures: only, country, group: params.group, service: params.service,
      sort, order, limit: PAGE, offset });
    if (ctx.stale()) return;
    const rerender = async () => { if (!ctx.stale()) ctx.update({}); };
    const cols = [
      { key: 'ip', label: t('col.ip'), sort: true,
        render: (r) => h('a', { href: ctx.link('source', r.ip), class: 'mono strong' }, r.ip) },
      { key: 'host', label: t('col.host'), sort: true, render: (r) => hostCell(r) },
      { key: 'group', label: t('col.group'), sort: true, render: (r) => h('a', { href: ctx.link('sources', null, { group: r.group, offset: null }) }, groupText(r)) },
      { key: 'service', label: t('col.service'), sort: true, render: (r) => serviceText(r) },
      { key: 'asn', label: t('col.asn'), sort: true, render: (r) => h('span', { class: 'break' }, asnText(r)) },
      { key: 'country', label: t('col.country'), sort: true, render: (r) => countryCell(r.country) },
      { key: 'class', label: t('col.class'), sort: true, render: (r) => classBadge(r.class) },
      { key: 'reason', label: t('col.reason'), render: (r) => h('span', { class: 'reason' }, reasonText(r.reason) || '—') },
      { key: 'messages', label: t('col.messages'), num: true, sort: true, render: (r) => num(r.messages) },
      { key: 'pass', label: t('col.dmarc_pass'), num: true, sort: true, render: (r) => pctBar(r.pass_rate) },
      { key: 'fail', label: t('col.failing'), num: true, sort: true, render: (r) => num(r.fail) },
      { key: 'header_from', label: t('col.header_from'), render: (r) => fromList(r.header_from) },
      { key: 'actions', label: t('col.actions'), render: (r) => ipActions(r, rerender) },
    ];
    const allCount = CLASSES.reduce((s, c) => s + (d.classes?.[c] || 0), 0);
    const chips = h('nav', { class: 'chips', id: 'class-filter', 'aria-label': t('sources.class_filter') },
      h('a', { class: 'chip' + (cls ? '' : ' on'), href: ctx.link('sources', null, { ...keep(params), class: null, offset: null }),
        dataset: { class: '' }, 'aria-current': cls ? null : 'true' }, t('sources.all_classes'), ' ', h('span', { class: 'count' }, num(allCount))),
      CLASSES.map((c) => h('a', { class: 'chip cls-chip cls-' + c + (cls === c ? ' on' : ''), dataset: { class: c },
        href: ctx.link('sources', null, { ...keep(params), class: c, offset: null }), 'aria-current': cls === c ? 'true' : null },
      t('class.' + c), ' ', h('span', { class: 'count' }, num(d.classes?.[c] || 0)))));
    const active = [];
    if (country) active.push([t('col.country'), country === 'none' ? t('intel.no_country') : countryName(country) + ' (' + country + ')', { country: null }]);
    if (params.group) active.push([t('col.group'), params.group, { group: null }]);
    if (params.service) active.push([t('col.service'), params.service, { service: null }]);
    const toggle = h('label', { class: 'toggle' }, h('input', { type: 'checkbox', id: 'only-failures', checked: only ? true : null,
      onchange: (e) => ctx.update({ only_failures: e.target.checked ? 1 : null, offset: null }) }), t('sources.only_failures'));
    mount(ctx.main,
      h('h1', null, t('sources.title')),
      rangeLine(ctx),
      chips,
      h('div', { class: 'toolbar' }, toggle,
        active.map(([label, value, clear]) => h('span', { class: 'chip on active-filter' }, label + ': ', h('span', { class: 'mono' }, value), ' ',
          h('a', { href: ctx.link('sources', null, { ...keep(params), ...clear, offset: null }), class: 'clear', 'aria-label': t('sources.clear_filter', { what: label }) }, '×'))),
        h('span', { class: 'muted' }, t('sources.count', { count: d.total }))),
      d.total === 0 ? emptyState(t('sources.empty_title'), only || cls || active.length ? t('sources.empty_failures') : t('sources.empty_body')) :
        h('section', { class: 'card' }, table(cols, d.sources, {
          sort, order, onSort: (k) => ctx.update({ sort: k, order: k === sort ? (order === 'desc' ? 'asc' : 'desc') : null, offset: null }),
          rowClass: (r) => 'cls-row-' + r.class + (r.fail ? ' has-fail' : ''),
        }), pager(ctx, d.total, PAGE, offset)),
      h('p', { class: 'hint' }, t('sources.hint')));
  },
};

// The view's own parameters that a chip link keeps.
function keep(params) {
  const out = {};
  for (const k of ['only_failures', 'country', 'group', 'service', 'sort', 'order', 'class']) if (params[k]) out[k] = params[k];
  return out;
}
