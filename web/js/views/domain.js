// views/domain.js - one domain: messages per day stacked by result and
// disposition with the pass-rate line, what to do next, the readiness for
// p=reject (verdict, quarantine / reject simulation over the period with
// legitimate sources hit and forwarded mail counted apart, checklist,
// next steps), policy history, top sources and top reporters.
import { h, mount, table } from '../dom.js';
import { t, num, pct, date } from '../i18n.js';
import * as api from '../api.js';
import { dailyChart, perDate } from '../chart.js';
import { pctBar, policyBadge, policyText, adviceList, tiles, section, rangeLine, noDataInRange, levelIcon } from './common.js';
import { classBadge, reasonText } from '../intel.js';

const VERDICT_LEVEL = { ready: 'ok', enforced: 'ok', almost: 'warn', not_ready: 'bad', insufficient_data: 'info', no_data: 'none' };

// The Readiness panel (GET /api/readiness/DOMAIN).
export function readinessPanel(ctx, r) {
  if (!r) return null;
  const v = r.verdict || {};
  const level = VERDICT_LEVEL[v.verdict] || 'info';
  const sims = r.simulation || [];
  const hit = (sims.find((x) => x.policy === 'reject') || sims[0] || {}).sources || [];
  return h('section', { class: 'card readiness', id: 'readiness' },
    h('h2', null, t('readiness.title')),
    h('p', { class: 'verdict lvl-' + level, id: 'readiness-verdict', dataset: { verdict: v.verdict || '' } }, levelIcon(level),
      h('span', { class: 'badge ' + (level === 'none' ? 'muted' : level) }, t('readiness.verdict.' + (v.verdict || 'no_data'))), ' ',
      h('span', null, reasonText(v) || '')),
    h('p', { class: 'muted small' }, t('readiness.policy_seen', { policy: r.policy && r.policy.p ? policyText(r.policy) : t('policy.unknown') })),
    sims.length ? table([
      { key: 'policy', label: t('readiness.if_policy'), render: (x) => h('span', { class: 'mono' }, 'p=' + x.policy) },
      { key: 'effect', label: t('readiness.effect'), render: (x) => t('readiness.effect.' + x.effect) },
      { key: 'affected', label: t('readiness.affected'), num: true, render: (x) => num(x.affected) },
      { key: 'legitimate', label: t('readiness.legit_hit'), num: true, render: (x) => h('span', { class: x.legitimate ? 'bad-text strong' : null }, num(x.legitimate)) },
      { key: 'forwarded', label: t('class.forwarded'), num: true, render: (x) => num(x.forwarded) },
      { key: 'spoofing', label: t('class.spoofing'), num: true, render: (x) => num(x.spoofing) },
      { key: 'unknown', label: t('class.unknown'), num: true, render: (x) => num(x.unknown) },
      { key: 'subdomain', label: t('readiness.subdomain'), num: true, render: (x) => num(x.subdomain_affected) },
    ], sims, { compact: true, caption: t('readiness.sim_caption') }) : null,
    hit.length ? h('div', { id: 'readiness-hit' }, h('h3', null, t('readiness.hit_sources')), table([
      { key: 'ip', label: t('col.ip'), render: (x) => h('a', { href: ctx.link('source', x.ip), class: 'mono' }, x.ip) },
      { key: 'who', label: t('col.host'), render: (x) => x.service || x.ptr || '—' },
      { key: 'class', label: t('col.class'), render: (x) => classBadge(x.class) },
      { key: 'messages', label: t('col.messages'), num: true, render: (x) => num(x.messages) },
      { key: 'reason', label: t('col.reason'), render: (x) => reasonText(x.reason) || '—' },
    ], hit, { compact: true })) : null,
    h('div', { class: 'cols' },
      h('div', null, h('h3', null, t('readiness.checklist')),
        h('ul', { class: 'checklist', id: 'readiness-checklist' }, (r.checklist || []).map((c) =>
          h('li', { class: c.ok ? 'ok' : 'todo', dataset: { check: c.id } }, levelIcon(c.ok ? 'ok' : 'bad'),
            h('span', { class: 'visually-hidden' }, c.ok ? t('readiness.done') : t('readiness.todo')), h('span', null, reasonText(c)))))),
      h('div', null, h('h3', null, t('readiness.steps')),
        (r.steps || []).length ? h('ol', { class: 'advice', id: 'readiness-steps' }, r.steps.map((x) =>
          h('li', { class: 'lvl-action', dataset: { code: x.code } }, levelIcon('action'), h('span', null, reasonText(x))))) :
          h('p', { class: 'muted' }, t('readiness.no_steps')))));
}

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
    const [d, ready] = await Promise.all([
      api.get('domains/' + encodeURIComponent(name), { since: range.since, until: range.until,
        reporter: params.reporter, result: params.result }),
      api.get('readiness/' + encodeURIComponent(name), { since: range.since, until: range.until }).catch((e) => {
        console.info('readiness:', e.message);
        return null;
      })]);
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
      readinessPanel(ctx, ready),
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
