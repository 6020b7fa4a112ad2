// views/domain.js - one domain: messages per day stacked by result and
// disposition with the pass-rate line, what to do next, policy history,
// top sources and top reporters.
import { h, mount, table } from '../dom.js';
import { t, num, pct, date } from '../i18n.js';
import * as api from '../api.js';
import { dailyChart, perDate } from '../chart.js';
import { pctBar, policyBadge, policyText, adviceList, tiles, section, rangeLine, noDataInRange } from './common.js';

export function domainTiles(d) {
  const tot = d.totals;
  const lvl = tot.messages ? (tot.pass_pct >= 98 ? 'ok' : tot.pass_pct >= 90 ? 'warn' : 'bad') : null;
  return tiles([
    [t('tile.messages'), num(tot.messages)],
    [t('tile.dmarc_pass'), tot.messages ? pct(tot.pass_pct) : '—', null, lvl],
    [t('tile.spf_aligned'), tot.messages ? pct(tot.spf_aligned_pct) : '—'],
    [t('tile.dkim_aligned'), tot.messages ? pct(tot.dkim_aligned_pct) : '—'],
    [t('tile.failing'), num(tot.fail), t('tile.disposed', { quarantined: tot.quarantined, rejected: tot.rejected }),
      tot.fail ? 'warn' : null],
    [t('tile.policy'), policyBadge(d.policy), d.policy ? t('tile.policy_seen', { date: date(d.policy.seen) }) : null],
  ]);
}

export function sourcesTable(ctx, rows, domainName) {
  return table([
    { key: 'ip', label: t('col.ip'), render: (r) => h('a', { href: ctx.link('source', r.ip, { domain: domainName }), class: 'mono' }, r.ip) },
    { key: 'hostname', label: t('col.hostname'), render: (r) => r.hostname || '—' },
    { key: 'messages', label: t('col.messages'), num: true, render: (r) => num(r.messages) },
    { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, render: (r) => pctBar(r.pass_pct) },
    { key: 'fail', label: t('col.failing'), num: true, render: (r) => num(r.fail) },
  ], rows, { empty: t('empty.none'), compact: true });
}

export function policyHistory(rows) {
  return table([
    { key: 'policy', label: t('col.policy'), render: (r) => h('span', { class: 'mono' }, policyText(r)) },
    { key: 'adkim', label: t('col.alignment'), render: (r) => `adkim=${r.adkim || 'r'} aspf=${r.aspf || 'r'}` },
    { key: 'first', label: t('col.first_seen'), render: (r) => date(r.first) },
    { key: 'last', label: t('col.last_seen'), render: (r) => date(r.last) },
    { key: 'reports', label: t('col.reports'), num: true, render: (r) => num(r.reports) },
  ], rows, { empty: t('empty.none'), compact: true });
}

export default {
  name: 'domain',
  navParent: 'overview',
  filters: ['range', 'reporter', 'result'],
  async render(ctx) {
    const name = ctx.path[1];
    if (!name) { ctx.go(ctx.link('overview', null)); return; }
    const { range, params } = ctx;
    const d = await api.get('domains/' + encodeURIComponent(name), { since: range.since, until: range.until,
      reporter: params.reporter, result: params.result });
    if (ctx.stale()) return;
    const chartEl = h('div', { class: 'chart', id: 'daily-chart' });
    mount(ctx.main,
      h('p', { class: 'crumbs' }, h('a', { href: ctx.link('overview', null) }, t('nav.overview')), ' › '),
      h('div', { class: 'title-row' }, h('h1', null, name),
        h('a', { class: 'button', href: ctx.link('print', name, { month: range.to.slice(0, 7) }) }, t('domain.print'))),
      rangeLine(ctx),
      domainTiles(d),
      d.totals.messages === 0 ? noDataInRange(ctx) : null,
      section(t('domain.next_steps'), adviceList(d.advice)),
      section(t('domain.per_day'), chartEl, h('p', { class: 'hint' }, t('domain.chart_hint'))),
      h('div', { class: 'cols' },
        section(t('domain.top_sources'), sourcesTable(ctx, d.top_sources, name),
          h('p', null, h('a', { href: ctx.link('sources', null, { domain: name }) }, t('domain.all_sources')))),
        section(t('domain.top_reporters'), table([
          { key: 'reporter', label: t('col.reporter'), render: (r) => h('a', { href: ctx.link('reports', null, { domain: name, reporter: r.reporter }) }, r.reporter) },
          { key: 'messages', label: t('col.messages'), num: true, render: (r) => num(r.messages) },
          { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, render: (r) => pctBar(r.pass_pct) },
        ], d.top_reporters, { empty: t('empty.none'), compact: true }))),
      section(t('domain.policy_history'), policyHistory(d.policy_history)));
    dailyChart(chartEl, perDate(d.series, range));
  },
};
