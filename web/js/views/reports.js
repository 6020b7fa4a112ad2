// views/reports.js - the reports received, newest first, with filters.
import { h, mount, table } from '../dom.js';
import { t, num, date } from '../i18n.js';
import * as api from '../api.js';
import { pager, rangeLine, intOrNull, emptyState, noReports } from './common.js';

const PAGE = 50;

export default {
  name: 'reports',
  nav: true,
  filters: ['domain', 'reporter', 'result', 'range'],
  async render(ctx) {
    const { range, params } = ctx;
    const offset = intOrNull(params.offset) || 0;
    const rid = params.report_id || '';
    const d = await api.get('reports', { since: range.since, until: range.until, domain: params.domain,
      reporter: params.reporter, result: params.result, report_id: rid || undefined, limit: PAGE, offset });
    if (ctx.stale()) return;
    const none = d.total === 0 && !rid && !(ctx.meta && ctx.meta.domains && ctx.meta.domains.length);
    // Report-ID search: the ID a reporter quotes in its mail's subject, or part of it
    const input = h('input', { type: 'search', id: 'f-report-id', value: rid, maxlength: 255,
      placeholder: t('reports.search_placeholder'), 'aria-label': t('reports.search_label') });
    const search = h('form', { class: 'search', role: 'search', onsubmit: (e) => {
      e.preventDefault();
      ctx.go(ctx.link('reports', null, { report_id: input.value.trim() || null, offset: null }));
    } }, h('label', null, h('span', null, t('reports.search_label')), input),
    h('button', { type: 'submit', id: 'f-report-id-go' }, t('reports.search')),
    rid ? h('a', { href: ctx.link('reports', null, { report_id: null, offset: null }), class: 'clear', id: 'f-report-id-clear' },
      t('reports.search_clear')) : null);
    mount(ctx.main,
      h('h1', null, t('reports.title')),
      rangeLine(ctx),
      none ? null : search,
      none ? noReports(ctx.link) : d.total === 0 ? emptyState(t('reports.empty_title'), t('reports.empty_body')) :
        h('section', { class: 'card' }, h('p', { class: 'muted' }, t('reports.count', { count: d.total })), table([
          { key: 'begin_ts', label: t('col.period'), render: (r) => date(r.begin_ts) + ' – ' + date(r.end_ts) },
          { key: 'reporter', label: t('col.reporter'), render: (r) => r.reporter },
          { key: 'domain', label: t('col.domain'), render: (r) => r.domain },
          { key: 'report_id', label: t('col.report_id'), render: (r) => h('a', { href: ctx.link('report', r.id), class: 'mono' }, r.report_id) },
          { key: 'records', label: t('col.records'), num: true, render: (r) => num(r.records) },
          { key: 'messages', label: t('col.messages'), num: true, render: (r) => num(r.messages) },
          { key: 'fail', label: t('col.failing'), num: true, render: (r) => (r.fail ? h('strong', { class: 'bad-text' }, num(r.fail)) : num(0)) },
          { key: 'n_warnings', label: t('col.warnings'), num: true, render: (r) => (r.n_warnings || r.n_errors ? num(r.n_warnings + r.n_errors) : '—') },
        ], d.reports, { compact: true }), pager(ctx, d.total, PAGE, offset)));
  },
};
