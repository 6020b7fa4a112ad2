// views/report.js - one report: metadata, published policy, warnings and
// errors, records with their DKIM/SPF results, the ledger rows that brought
// it in, and the original file to download.
import { h, mount, table } from '../dom.js';
import { t, num, date, dateTime } from '../i18n.js';
import * as api from '../api.js';
import { reasonText } from '../reasons.js';
import { resultBadge, dispositionBadge, policyText, section, pager, intOrNull } from './common.js';
import { authList, reasonList } from './source.js';

const PAGE = 200;

export default {
  name: 'report',
  navParent: 'reports',
  filters: [],
  async render(ctx) {
    const id = ctx.path[1];
    const offset = intOrNull(ctx.params.offset) || 0;
    const d = await api.get('reports/' + encodeURIComponent(id), { limit: PAGE, offset });
    if (ctx.stale()) return;
    const r = d.report;
    const facts = [
      [t('report.reporter'), r.reporter], [t('report.email'), r.email || '—'],
      [t('report.report_id'), r.report_id], [t('report.domain'), r.domain],
      [t('report.period'), dateTime(r.begin_ts) + ' – ' + dateTime(r.end_ts)],
      [t('report.policy'), policyText(r)], [t('report.alignment'), `adkim=${r.adkim || 'r'} aspf=${r.aspf || 'r'}`],
      [t('report.records'), num(r.records)], [t('report.messages'), num(r.messages)],
      [t('report.failing'), num(r.fail)], [t('report.version'), r.version || '—'],
      [t('report.generator'), r.generator || '—'], [t('report.imported'), dateTime(r.imported_at)],
    ];
    const notes = [...(Array.isArray(r.errors) ? r.errors.map((e) => [t('report.error'), e]) : []),
      ...(Array.isArray(r.warnings) ? r.warnings.map((w) => [t('report.warning'), reasonText(w)]) : [])];
    mount(ctx.main,
      h('p', { class: 'crumbs' }, h('a', { href: ctx.link('reports', null) }, t('nav.reports')), ' › '),
      h('div', { class: 'title-row' }, h('h1', null, t('report.title', { reporter: r.reporter, domain: r.domain })),
        r.has_raw ? h('a', { class: 'button', id: 'raw-download', href: '/api/reports/' + r.id + '/raw', download: '' }, t('report.download')) : null),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', { class: k === t('report.report_id') ? 'mono' : null }, v)])),
      notes.length ? section(t('report.notes'), h('ul', { class: 'notes' }, notes.map(([k, v]) => h('li', null, h('strong', null, k), ' ', String(v))))) : null,
      section(t('report.records_title'), table([
        { key: 'ip', label: t('col.ip'), render: (x) => h('a', { class: 'mono', href: ctx.link('source', x.ip) }, x.ip) },
        { key: 'hostname', label: t('col.hostname'), render: (x) => x.hostname || '—' },
        { key: 'count', label: t('col.messages'), num: true, render: (x) => num(x.count) },
        { key: 'dmarc', label: t('col.dmarc'), render: (x) => resultBadge(x.dmarc) },
        { key: 'dkim_eval', label: t('col.dkim_aligned_short'), render: (x) => resultBadge(x.dkim_eval) },
        { key: 'spf_eval', label: t('col.spf_aligned_short'), render: (x) => resultBadge(x.spf_eval) },
        { key: 'disposition', label: t('col.disposition'), render: (x) => dispositionBadge(x.disposition) },
        { key: 'header_from', label: t('col.header_from'), render: (x) => x.header_from },
        { key: 'envelope_from', label: t('col.envelope_from'), render: (x) => x.envelope_from || '—' },
        { key: 'dkim', label: t('col.dkim'), render: (x) => authList(x.dkim, 'dkim') },
        { key: 'spf', label: t('col.spf'), render: (x) => authList(x.spf, 'spf') },
        { key: 'reasons', label: t('col.reasons'), render: (x) => reasonList(x.reasons) || '—' },
      ], d.records, { compact: true, empty: t('report.no_records') }), pager(ctx, r.records, PAGE, offset)),
      d.ledger.length ? section(t('report.ledger'), table([
        { key: 'ts', label: t('col.time'), render: (x) => dateTime(x.ts) },
        { key: 'source', label: t('col.source'), render: (x) => x.source },
        { key: 'input', label: t('col.input'), render: (x) => x.input + (x.member ? ' › ' + x.member : '') },
        { key: 'status', label: t('col.status'), render: (x) => t('ledger.status.' + x.status) },
      ], d.ledger, { compact: true })) : null);
  },
};
