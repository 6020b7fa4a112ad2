// views/ledger.js - every input the importer looked at, with its status
// and, when it was not imported, the reason.
import { h, mount, table, badge } from '../dom.js';
import { t, num, dateTime, bytes } from '../i18n.js';
import * as api from '../api.js';
import { pager, intOrNull, emptyState } from './common.js';

const PAGE = 100;
const STATUSES = ['imported', 'duplicate', 'rejected', 'not-a-report', 'unsupported', 'error'];
const KIND = { imported: 'ok', duplicate: 'muted', rejected: 'bad', 'not-a-report': 'warn', unsupported: 'info', error: 'bad' };

export function statusBadge(s) { return badge(t('ledger.status.' + s), KIND[s] || 'muted'); }

export default {
  name: 'ledger',
  nav: true,
  filters: [],
  async render(ctx) {
    const { params } = ctx;
    const status = STATUSES.includes(params.status) ? params.status : null;
    const offset = intOrNull(params.offset) || 0;
    const d = await api.get('ledger', { status, limit: PAGE, offset });
    if (ctx.stale()) return;
    const all = Object.values(d.counts).reduce((a, b) => a + b, 0);
    mount(ctx.main,
      h('h1', null, t('ledger.title')),
      h('p', { class: 'lead' }, t('ledger.lead')),
      h('div', { class: 'chips', role: 'group', 'aria-label': t('ledger.filter') },
        h('a', { href: ctx.link('ledger', null, { status: null }), class: 'chip' + (status ? '' : ' on'), dataset: { status: '' } },
          t('ledger.all'), ' ', h('span', { class: 'count' }, num(all))),
        STATUSES.map((s) => h('a', { href: ctx.link('ledger', null, { status: s }), class: 'chip' + (status === s ? ' on' : ''), dataset: { status: s } },
          t('ledger.status.' + s), ' ', h('span', { class: 'count' }, num(d.counts[s] || 0))))),
      d.entries.length === 0 ? emptyState(t('ledger.empty_title'), t('ledger.empty_body')) :
        h('section', { class: 'card' }, table([
          { key: 'ts', label: t('col.time'), render: (x) => dateTime(x.ts) },
          { key: 'source', label: t('col.source'), render: (x) => x.source },
          { key: 'input', label: t('col.input'), render: (x) => h('span', { class: 'break' }, x.input + (x.member ? ' › ' + x.member : '')) },
          { key: 'size', label: t('col.size'), num: true, render: (x) => bytes(x.size) },
          { key: 'status', label: t('col.status'), render: (x) => statusBadge(x.status) },
          { key: 'reason', label: t('col.reason'), render: (x) => x.reason || '' },
          { key: 'report', label: t('col.report'), render: (x) => (x.report ? h('a', { href: ctx.link('report', x.report) }, '#' + x.report) : '') },
        ], d.entries, { compact: true, rowClass: (x) => 'st-' + x.status }), pager(ctx, d.total, PAGE, offset)));
  },
};
