// views/ledger.js - every input that came in, from every source (mailbox,
// MTA pipe, spool folder, upload, command line), with its status and, when
// it was not imported, the reason.  Filters: status, source (origin) and one
// mailbox.  Above the list, the intake status panel: the configured
// mailboxes (last poll, last success, errors) and the watched spool folders
// (files waiting, files that failed, last import), from GET /api/mailboxes.
import { h, mount, table, badge } from '../dom.js';
import { t, num, dateTime, bytes, getLang } from '../i18n.js';
import * as api from '../api.js';
import { reasonText } from '../reasons.js';
import { pager, intOrNull, emptyState } from './common.js';

const PAGE = 100;
const STATUSES = ['imported', 'duplicate', 'rejected', 'not-a-report', 'unsupported', 'error'];
const ORIGINS = ['mailbox', 'pipe', 'spool', 'upload', 'import'];
const KIND = { imported: 'ok', duplicate: 'muted', rejected: 'bad', 'not-a-report': 'warn', unsupported: 'info', error: 'bad' };
const STATE_KIND = { ok: 'ok', error: 'bad', late: 'warn', never: 'muted', disabled: 'muted', removed: 'muted', missing: 'bad' };

export function statusBadge(s) { return badge(t('ledger.status.' + s), KIND[s] || 'muted'); }

function stateBadge(s) {
  return h('span', { class: 'badge ' + (STATE_KIND[s] || 'muted'), dataset: { state: s } }, t('intake.state.' + s));
}

// 300 -> "5 minutes" in the viewer's language.
function duration(sec) {
  if (!sec) return '—';
  const [n, unit] = sec % 3600 === 0 ? [sec / 3600, 'hour'] : sec % 60 === 0 ? [sec / 60, 'minute'] : [sec, 'second'];
  try { return new Intl.NumberFormat(getLang(), { style: 'unit', unit, unitDisplay: 'long' }).format(n); } catch { return sec + ' s'; }
}

function when(ts) { return ts ? dateTime(ts) : t('intake.never'); }

// The intake status panel; null when the server has no such endpoint.
function intakePanel(ctx, d) {
  if (!d) return null;
  const mbs = d.mailboxes || [], spool = d.spool || [];
  return h('section', { class: 'card', id: 'intake-status', 'aria-labelledby': 'intake-title' },
    h('h2', { id: 'intake-title' }, t('intake.title')),
    d.intake ? null : h('p', { class: 'muted' }, t('intake.not_running')),
    h('h3', null, t('intake.mailboxes')),
    mbs.length === 0 ? h('p', { class: 'empty', id: 'intake-no-mailboxes' }, t('intake.no_mailboxes')) :
      h('div', { id: 'intake-mailboxes' }, table([
        { key: 'name', label: t('col.mailbox'), render: (m) => h('a', { href: ctx.link('ledger', null, { origin: 'mailbox', mailbox: m.name }),
          title: t('intake.show_ledger'), dataset: { mailbox: m.name } }, m.name) },
        { key: 'server', label: t('col.server'), render: (m) => m.url ? h('span', { class: 'break' }, m.url, ' ', h('span', { class: 'muted' },
          m.folder + (m.poll_interval ? ' · ' + t('intake.every', { interval: duration(m.poll_interval) }) : ''))) : h('span', { class: 'muted' }, m.folder || '') },
        { key: 'state', label: t('col.state'), render: (m) => stateBadge(m.state) },
        { key: 'last_poll', label: t('col.last_poll'), render: (m) => when(m.last_poll) },
        { key: 'last_success', label: t('col.last_success'), render: (m) => when(m.last_success) },
        { key: 'fetched', label: t('col.fetched'), num: true, render: (m) => num(m.fetched) },
        { key: 'last_error', label: t('col.last_error'), render: (m) => (m.last_error ? h('span', { class: 'break' }, m.last_error) : '') },
      ], mbs, { compact: true, rowClass: (m) => 'mb-' + m.state })),
    h('h3', null, t('intake.spool')),
    spool.length === 0 ? h('p', { class: 'empty', id: 'intake-no-spool' }, t('intake.no_spool')) :
      h('div', { id: 'intake-spool' }, table([
        { key: 'path', label: t('col.folder'), render: (s) => h('span', { class: 'break' }, s.path) },
        { key: 'kind', label: t('col.kind'), render: (s) => t('intake.kind.' + s.kind) },
        { key: 'state', label: t('col.state'), render: (s) => stateBadge(s.state) },
        { key: 'pending', label: t('col.pending'), num: true, render: (s) => num(s.pending) },
        { key: 'failed', label: t('col.failed'), num: true, render: (s) => num(s.failed) },
        { key: 'last_import', label: t('col.last_import'), render: (s) => when(s.last_import) },
      ], spool, { compact: true })));
}

export default {
  name: 'ledger',
  nav: true,
  filters: [],
  async render(ctx) {
    const { params } = ctx;
    const status = STATUSES.includes(params.status) ? params.status : null;
    const origin = ORIGINS.includes(params.origin) ? params.origin : null;
    const mailbox = params.mailbox && params.mailbox.length <= 255 ? params.mailbox : null;
    const offset = intOrNull(params.offset) || 0;
    const [d, intake] = await Promise.all([
      api.get('ledger', { status, origin, mailbox, limit: PAGE, offset }),
      api.get('mailboxes').catch(() => null),
    ]);
    if (ctx.stale()) return;
    const all = Object.values(d.counts).reduce((a, b) => a + b, 0);
    const allOrigins = Object.values(d.origins || {}).reduce((a, b) => a + b, 0);
    const keep = { status, origin, mailbox };
    mount(ctx.main,
      h('h1', null, t('ledger.title')),
      h('p', { class: 'lead' }, t('ledger.lead')),
      intakePanel(ctx, intake),
      h('div', { class: 'chips', id: 'origin-filter', role: 'group', 'aria-label': t('ledger.filter_origin') },
        h('a', { href: ctx.link('ledger', null, { ...keep, origin: null, mailbox: null }), class: 'chip' + (origin ? '' : ' on'), dataset: { origin: '' } },
          t('ledger.all_sources'), ' ', h('span', { class: 'count' }, num(allOrigins))),
        ORIGINS.map((o) => h('a', { href: ctx.link('ledger', null, { ...keep, origin: o, mailbox: o === 'mailbox' ? mailbox : null }),
          class: 'chip' + (origin === o ? ' on' : ''), dataset: { origin: o } },
          t('ledger.origin.' + o), ' ', h('span', { class: 'count' }, num((d.origins || {})[o] || 0))))),
      mailbox ? h('p', { id: 'mailbox-filter' }, t('ledger.mailbox_only', { name: mailbox }), ' ',
        h('a', { href: ctx.link('ledger', null, { ...keep, mailbox: null }) }, t('ledger.mailbox_clear'))) : null,
      h('div', { class: 'chips', id: 'status-filter', role: 'group', 'aria-label': t('ledger.filter') },
        h('a', { href: ctx.link('ledger', null, { ...keep, status: null }), class: 'chip' + (status ? '' : ' on'), dataset: { status: '' } },
          t('ledger.all'), ' ', h('span', { class: 'count' }, num(all))),
        STATUSES.map((s) => h('a', { href: ctx.link('ledger', null, { ...keep, status: s }), class: 'chip' + (status === s ? ' on' : ''), dataset: { status: s } },
          t('ledger.status.' + s), ' ', h('span', { class: 'count' }, num(d.counts[s] || 0))))),
      d.entries.length === 0 ? emptyState(t('ledger.empty_title'), t('ledger.empty_body')) :
        h('section', { class: 'card', id: 'ledger-entries' }, table([
          { key: 'ts', label: t('col.time'), render: (x) => dateTime(x.ts) },
          { key: 'source', label: t('col.source'), render: (x) => h('span', { title: x.source, dataset: { origin: x.origin || '' } },
            x.origin ? t('ledger.origin.' + x.origin) : x.source) },
          { key: 'input', label: t('col.input'), render: (x) => h('span', { class: 'break' }, x.input + (x.member ? ' › ' + x.member : '')) },
          { key: 'size', label: t('col.size'), num: true, render: (x) => bytes(x.size) },
          { key: 'status', label: t('col.status'), render: (x) => statusBadge(x.status) },
          { key: 'reason', label: t('col.reason'), render: (x) => h('span', { title: x.reason || '' }, reasonText(x.reason)) },
          { key: 'report', label: t('col.report'), render: (x) => (x.report ? h('a', { href: ctx.link('report', x.report) }, '#' + x.report) : '') },
        ], d.entries, { compact: true, rowClass: (x) => 'st-' + x.status }),
        pager(ctx, d.total, PAGE, offset)));
  },
};
