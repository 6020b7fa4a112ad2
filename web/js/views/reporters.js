// views/reporters.js - who sends us reports, how much, and when last: a
// reporter silent for more than three days is flagged.
import { h, mount, table, sortRows } from '../dom.js';
import { t, num, date } from '../i18n.js';
import * as api from '../api.js';
import { badge } from '../dom.js';
import { pctBar, rangeLine, emptyState } from './common.js';

export default {
  name: 'reporters',
  nav: true,
  filters: ['domain', 'range'],
  async render(ctx) {
    const { range, params } = ctx;
    const d = await api.get('reporters', { since: range.since, until: range.until, domain: params.domain });
    if (ctx.stale()) return;
    const sort = params.sort || 'messages';
    const order = params.order || (sort === 'reporter' ? 'asc' : 'desc');
    const rows = sortRows(d.reporters, sort, order);
    const silent = d.reporters.filter((r) => r.silent).length;
    mount(ctx.main,
      h('h1', null, t('reporters.title')),
      rangeLine(ctx),
      silent ? h('div', { class: 'notice warn', role: 'status' }, t('reporters.silent_notice', { count: silent, days: d.silent_after_days })) : null,
      !rows.length ? emptyState(t('reporters.empty_title'), t('reporters.empty_body')) :
        h('section', { class: 'card' }, table([
          { key: 'reporter', label: t('col.reporter'), sort: true, render: (r) => h('a', { class: 'strong', href: ctx.link('reports', null, { reporter: r.reporter }) }, r.reporter) },
          { key: 'email', label: t('col.email'), sort: true, render: (r) => r.email || '—' },
          { key: 'messages', label: t('col.messages'), num: true, sort: true, render: (r) => num(r.messages) },
          { key: 'pass_pct', label: t('col.dmarc_pass'), num: true, sort: true, render: (r) => (r.messages ? pctBar(r.pass_pct) : '—') },
          { key: 'reports', label: t('col.reports'), num: true, sort: true, render: (r) => num(r.reports) },
          { key: 'domains', label: t('col.domains'), num: true, sort: true, render: (r) => num(r.domains) },
          { key: 'last_end', label: t('col.last_report'), sort: true, render: (r) => date(r.last_end) },
          { key: 'silent_days', label: t('col.state'), sort: true, render: (r) => r.silent ?
            badge(t('reporters.silent', { count: r.silent_days }), 'warn') : badge(t('reporters.active'), 'ok') },
        ], rows, { sort, order, onSort: (k) => ctx.update({ sort: k, order: k === sort && order === 'desc' ? 'asc' : 'desc' }),
          rowClass: (r) => (r.silent ? 'is-silent' : null) })),
      h('p', { class: 'hint' }, t('reporters.hint')));
  },
};
