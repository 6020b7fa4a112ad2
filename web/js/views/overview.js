// views/overview.js - every domain at a glance: messages, DMARC pass %,
// SPF/DKIM alignment, failing messages, published policy, 30-day trend and
// a one-sentence status in plain words.
import { h, mount, table, sortRows } from '../dom.js';
import { t, num } from '../i18n.js';
import * as api from '../api.js';
import { sparkline } from '../chart.js';
import { addDays } from '../time.js';
import { pctBar, policyBadge, levelIcon, noReports, noDataInRange, tiles, rangeLine, pct } from './common.js';

export default {
  name: 'overview',
  nav: true,
  filters: ['range', 'reporter'],
  async render(ctx) {
    const { range, params } = ctx;
    const data = await api.get('overview', { since: range.since, until: range.until, reporter: params.reporter });
    if (ctx.stale()) return;
    const main = ctx.main;
    if (!data.domains.length) {
      mount(main, h('h1', null, t('overview.title')), noReports(ctx.link));
      return;
    }
    const tot = data.totals;
    const sort = params.sort || 'messages';
    const order = params.order || (sort === 'domain' ? 'asc' : 'desc');
    const rows = sortRows(data.domains, sort, order);
    const sparkCells = [];
    const cols = [
      { key: 'domain', label: t('col.domain'), sort: true,
        render: (r) => h('a', { href: ctx.link('domain', r.domain), class: 'strong' }, r.domain) },
      { key: 'messages', label: t('col.messages'), num: true, sort: true, render: (r) => num(r.messages) },
      { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, sort: true, render: (r) => r.messages ? pctBar(r.pass_pct) : '—' },
      { key: 'spf_aligned_pct', label: t('col.spf_aligned'), num: true, sort: true, render: (r) => r.messages ? pct(r.spf_aligned_pct) : '—' },
      { key: 'dkim_aligned_pct', label: t('col.dkim_aligned'), num: true, sort: true, render: (r) => r.messages ? pct(r.dkim_aligned_pct) : '—' },
      { key: 'fail', label: t('col.failing'), num: true, sort: true,
        render: (r) => r.fail ? h('a', { href: ctx.link('sources', null, { domain: r.domain, only_failures: 1 }) }, num(r.fail)) : num(0) },
      { key: 'policy', label: t('col.policy'), render: (r) => policyBadge(r.policy) },
      { key: 'spark', label: t('col.trend'), render: (r) => { const c = h('div', { class: 'spark' }); sparkCells.push([c, r]); return c; } },
      { key: 'status', label: t('col.status'), render: (r) => h('span', { class: 'status lvl-' + r.status.level },
        levelIcon(r.status.level), t(r.status.key, r.status.params)) },
    ];
    const level = tot.messages === 0 ? null : tot.pass_pct >= 98 ? 'ok' : tot.pass_pct >= 90 ? 'warn' : 'bad';
    mount(main,
      h('h1', null, t('overview.title')),
      rangeLine(ctx),
      tiles([
        [t('tile.domains'), num(tot.domains)],
        [t('tile.messages'), num(tot.messages)],
        [t('tile.dmarc_pass'), tot.messages ? pct(tot.pass_pct) : '—', null, level],
        [t('tile.failing'), num(tot.fail), tot.messages ? t('tile.failing_sub', { fail_pct: 100 * tot.fail / tot.messages }) : null,
          tot.fail ? 'warn' : null],
      ]),
      tot.messages === 0 ? noDataInRange(ctx) : null,
      h('section', { class: 'card' }, table(cols, rows, {
        sort, order, onSort: (k) => ctx.update({ sort: k, order: k === sort && order === 'desc' ? 'asc' : 'desc' }),
        rowClass: (r) => 'lvl-' + r.status.level,
      })),
      h('p', { class: 'hint' }, t('overview.hint')));
    // The sparkline covers the last 30 days of the period (as the API's spark).
    const last30 = addDays(range.to, -29);
    const spanRange = { from: range.from > last30 ? range.from : last30, to: range.to };
    for (const [c, r] of sparkCells) sparkline(c, r.spark, spanRange);
  },
};
