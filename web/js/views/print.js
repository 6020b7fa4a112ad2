// views/print.js - a per-domain monthly report for managers, styled for A4
// (print or "Save as PDF" from the browser): summary, daily chart, next
// steps, sources, reporters, policy history.
import { h, mount, table } from '../dom.js';
import { t, num, pct, monthName, dateTime } from '../i18n.js';
import * as api from '../api.js';
import { dailyChart, perDate, staticKey } from '../chart.js';
import { midnight, addDays, ymd } from '../time.js';
import { adviceList, section, pctBar } from './common.js';
import { domainTiles, sourcesTable, policyHistory } from './domain.js';

function monthRange(month) {
  const [y, m] = month.split('-').map(Number);
  const from = `${y}-${String(m).padStart(2, '0')}-01`;
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  return { y, m, from, to: addDays(next, -1), since: midnight(from), until: midnight(next) };
}

export default {
  name: 'print',
  navParent: 'overview',
  filters: [],
  async render(ctx) {
    const name = ctx.path[1];
    const month = /^\d{4}-(0[1-9]|1[0-2])$/.test(ctx.params.month || '') ? ctx.params.month : ymd(ctx.now).slice(0, 7);
    const range = monthRange(month);
    const d = await api.get('domains/' + encodeURIComponent(name), { since: range.since, until: range.until });
    if (ctx.stale()) return;
    const chartEl = h('div', { class: 'chart print-chart' });
    const prev = addDays(range.from, -1).slice(0, 7), next = addDays(range.to, 1).slice(0, 7);
    const tot = d.totals;
    mount(ctx.main,
      h('div', { class: 'print-tools no-print' },
        h('a', { href: ctx.link('domain', name) }, '‹ ', name),
        h('a', { href: ctx.link('print', name, { month: prev }), dataset: { month: prev } }, '‹ ', t('print.prev')),
        h('a', { href: ctx.link('print', name, { month: next }), dataset: { month: next } }, t('print.next'), ' ›'),
        h('button', { type: 'button', class: 'primary', id: 'print-button', onclick: () => window.print() }, t('print.print'))),
      h('article', { class: 'print-page' },
        h('header', { class: 'print-head' }, h('p', { class: 'muted' }, t('print.kicker')),
          h('h1', null, t('print.title', { domain: name, month: monthName(range.y, range.m) })),
          h('p', { class: 'muted' }, t('print.generated', { date: dateTime(ctx.now) }))),
        h('p', { class: 'print-summary' }, tot.messages ? t('print.summary', { messages: tot.messages, pass_pct: tot.pass_pct,
          fail: tot.fail, sources: tot.sources, reporters: tot.reporters }) : t('print.no_data')),
        domainTiles(d),
        section(t('domain.next_steps'), adviceList(d.advice)),
        section(t('domain.per_day'), chartEl, staticKey()),
        section(t('domain.top_sources'), sourcesTable(ctx, d.top_sources, name)),
        section(t('domain.top_reporters'), table([
          { key: 'reporter', label: t('col.reporter'), render: (r) => r.reporter },
          { key: 'messages', label: t('col.messages'), num: true, render: (r) => num(r.messages) },
          { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, render: (r) => pctBar(r.pass_pct) },
        ], d.top_reporters, { compact: true, empty: t('empty.none') })),
        section(t('domain.policy_history'), policyHistory(d.policy_history)),
        h('footer', { class: 'print-foot muted' }, t('print.footer'))));
    dailyChart(chartEl, perDate(d.series, range), { width: 680, height: 240 });
  },
};
