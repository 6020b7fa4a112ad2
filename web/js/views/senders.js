// views/senders.js - sender group analysis: every sending source grouped by
// the organisational domain of its host name or its known service, in four
// sections (our own servers, the services we send through, forwarders and
// lists, everyone else) with messages, DMARC pass rate and the class
// breakdown; a group expands to its sources (with approve actions).  Also
// the world map of source countries, the enrichment status and the user's
// approve / tag / reject rules.
import { h, mount, table } from '../dom.js';
import { t, num, pct, dateTime } from '../i18n.js';
import * as api from '../api.js';
import { pctBar, tiles, section, rangeLine, emptyState, noDataInRange } from './common.js';
import { CLASSES, classBadge, classBar, classLegend, reasonText, hostCell, countryCell, countryName, serviceText, ipActions, addRule } from '../intel.js';
import { worldMap, mapLegend } from '../map.js';

const SECTIONS = ['own', 'services', 'forwarders', 'others'];

function kindBadge(g) {
  const k = g.kind || 'none';
  return h('span', { class: 'badge muted' }, t('group.kind.' + (['own', 'service', 'domain', 'asn', 'none'].includes(k) ? k : 'none')));
}

function groupSources(ctx, g, base, rerender) {
  const box = h('div', { class: 'group-sources', dataset: { group: g.group } }, h('p', { class: 'loading' }, t('common.loading')));
  api.get('senders/sources', { ...base, group: g.group, limit: 100 }).then((d) => {
    if (ctx.stale()) return;
    mount(box, table([
      { key: 'ip', label: t('col.ip'), render: (r) => h('a', { href: ctx.link('source', r.ip), class: 'mono' }, r.ip) },
      { key: 'host', label: t('col.host'), render: (r) => hostCell(r) },
      { key: 'country', label: t('col.country'), render: (r) => countryCell(r.country) },
      { key: 'messages', label: t('col.messages'), num: true, render: (r) => num(r.messages) },
      { key: 'pass', label: t('col.dmarc_pass'), num: true, render: (r) => pctBar(r.pass_rate) },
      { key: 'class', label: t('col.class'), render: (r) => classBadge(r.class) },
      { key: 'reason', label: t('col.reason'), render: (r) => h('span', { class: 'reason' }, reasonText(r.reason) || '—') },
      { key: 'actions', label: t('col.actions'), render: (r) => ipActions(r, rerender) },
    ], d.sources, { compact: true, empty: t('empty.none') }),
    d.total > d.sources.length ? h('p', null, h('a', { href: ctx.link('sources', null, { group: g.group }) },
      t('senders.all_sources', { count: d.total }))) : null);
  }).catch((e) => { if (!ctx.stale()) mount(box, h('p', { class: 'bad-text' }, e.message)); });
  return box;
}

function groupsTable(ctx, groups, base, rerender) {
  const head = h('tr', null, [t('col.group'), t('col.sources'), t('col.messages'), t('col.dmarc_pass'), t('col.classes'),
    t('col.class'), t('col.countries'), ''].map((l, i) => h('th', { scope: 'col', class: i >= 1 && i <= 3 ? 'num' : null }, l)));
  const bodies = groups.map((g) => {
    const detail = h('tr', { class: 'group-detail', hidden: true }, h('td', { colspan: 8 }));
    const btn = h('button', { type: 'button', class: 'small expand', 'aria-expanded': 'false', dataset: { expand: g.group },
      onclick: () => {
        const open = btn.getAttribute('aria-expanded') !== 'true';
        btn.setAttribute('aria-expanded', open ? 'true' : 'false');
        btn.textContent = open ? t('senders.collapse') : t('senders.expand');
        detail.hidden = !open;
        if (open && !detail.firstChild.firstChild) detail.firstChild.appendChild(groupSources(ctx, g, base, rerender));
      } }, t('senders.expand'));
    // groups without a host name carry an English placeholder name from the API
    const gname = g.group === 'none' ? t('group.name.none') : g.group === 'own' ? t('group.name.own_nohost') : g.name;
    const name = g.service ? h('span', null, h('strong', null, gname), ' ', kindBadge(g), g.service_type ? [' ', h('span', { class: 'badge muted' }, t('service_type.' + g.service_type))] : null)
      : h('span', null, h('strong', { class: g.kind === 'domain' ? 'mono' : null }, gname), ' ', kindBadge(g));
    return h('tbody', { dataset: { group: g.group, section: g.section } },
      h('tr', null,
        h('td', { dataset: { col: 'group' } }, name),
        h('td', { class: 'num', dataset: { col: 'sources' } }, num(g.sources)),
        h('td', { class: 'num', dataset: { col: 'messages' } }, num(g.messages)),
        h('td', { class: 'num', dataset: { col: 'pass' } }, pctBar(g.pass_rate)),
        h('td', { dataset: { col: 'classes' } }, classBar(g.classes)),
        h('td', { dataset: { col: 'class' } }, classBadge(g.class)),
        h('td', { dataset: { col: 'countries' } }, (g.countries || []).length ? g.countries.slice(0, 3).map((c) =>
          h('span', { class: 'cc mono', title: countryName(c.country) }, c.country)) : '—'),
        h('td', null, btn)),
      detail);
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data groups' }, h('thead', null, head), bodies));
}

function countriesTable(ctx, d) {
  return table([
    { key: 'country', label: t('col.country'), render: (c) => h('a', { href: ctx.link('sources', null, { country: c.country }), dataset: { cc: c.country } },
      h('span', { class: 'mono' }, c.country), ' ', countryName(c.country)) },
    { key: 'sources', label: t('col.sources'), num: true, render: (c) => num(c.sources) },
    { key: 'messages', label: t('col.messages'), num: true, render: (c) => num(c.messages) },
    { key: 'pass', label: t('col.dmarc_pass'), num: true, render: (c) => pct(c.pass_rate) },
    { key: 'spoofing', label: t('class.spoofing'), num: true, render: (c) => num(c.classes?.spoofing || 0) },
  ], d.countries.slice(0, 12), { compact: true, empty: t('map.none') });
}

function enrichNotice(e) {
  if (!e) return null;
  const w = e.worker || {};
  if (e.pending > 0 && w.state !== 'off')
    return h('div', { class: 'notice', id: 'enrich-status', role: 'status' }, t('enrich.pending', { pending: e.pending, ips: e.ips }));
  if (w.state === 'offline')
    return h('div', { class: 'notice warn', id: 'enrich-status', role: 'status' }, t('enrich.offline', { ips: e.ips }));
  if (e.pending > 0)
    return h('div', { class: 'notice warn', id: 'enrich-status', role: 'status' }, t('enrich.pending_off', { pending: e.pending }));
  return h('p', { class: 'hint', id: 'enrich-status' }, t('enrich.done', { ips: e.ips, ptr: e.ptr_ok, geo: e.geo }),
    w.last_run ? ' ' + t('enrich.last_run', { when: dateTime(w.last_run) }) : '');
}

function rulesCard(ctx, rules, rerender) {
  const status = h('span', { class: 'rule-status', role: 'status' });
  const action = h('select', { id: 'rule-action', 'aria-label': t('rules.action') },
    ['approve', 'tag', 'reject'].map((a) => h('option', { value: a }, t('rules.action.' + a))));
  const kind = h('select', { id: 'rule-kind', 'aria-label': t('rules.kind') },
    ['ip', 'host', 'service', 'dkim'].map((k) => h('option', { value: k }, t('rules.kind.' + k))));
  const pattern = h('input', { id: 'rule-pattern', type: 'text', required: true, maxlength: 255, placeholder: t('rules.pattern_ph'), 'aria-label': t('rules.pattern') });
  const tag = h('input', { id: 'rule-tag', type: 'text', maxlength: 64, placeholder: t('rules.tag'), 'aria-label': t('rules.tag') });
  const note = h('input', { id: 'rule-note', type: 'text', maxlength: 500, placeholder: t('rules.note'), 'aria-label': t('rules.note') });
  const form = h('form', { class: 'rule-form', id: 'rule-form', onsubmit: (e) => {
    e.preventDefault();
    if (!pattern.value.trim()) return;
    addRule({ action: action.value, kind: kind.value, pattern: pattern.value.trim(), tag: tag.value.trim() || null,
      note: note.value.trim() || null, domain: ctx.params.domain || null }, status, rerender);
  } }, action, kind, pattern, tag, note, h('button', { type: 'submit', class: 'primary', id: 'rule-add' }, t('rules.add')), status);
  const remove = async (r, st) => {
    st.textContent = t('rules.saving');
    try { await api.send('DELETE', 'rules/' + r.id); await rerender(); } catch (e) { st.textContent = t('rules.failed', { message: e.message }); }
  };
  return section(t('rules.title'),
    h('p', { class: 'hint' }, t('rules.lead')),
    table([
      { key: 'action', label: t('rules.action'), render: (r) => h('span', { class: 'badge ' + (r.action === 'approve' ? 'ok' : r.action === 'reject' ? 'bad' : 'info') }, t('rules.action.' + r.action)) },
      { key: 'kind', label: t('rules.kind'), render: (r) => t('rules.kind.' + r.kind) },
      { key: 'pattern', label: t('rules.pattern'), render: (r) => h('span', { class: 'mono break' }, r.pattern) },
      { key: 'tag', label: t('rules.tag'), render: (r) => r.tag || '—' },
      { key: 'note', label: t('rules.note'), render: (r) => r.note || '—' },
      { key: 'domain', label: t('col.domain'), render: (r) => r.domain || t('rules.all_domains') },
      { key: 'created_at', label: t('rules.created'), render: (r) => dateTime(r.created_at) },
      { key: 'remove', label: '', render: (r) => { const st = h('span', { class: 'rule-status' });
        return h('span', null, h('button', { type: 'button', class: 'small', dataset: { removeRule: r.id }, onclick: () => remove(r, st) }, t('rules.remove')), st); } },
    ], rules, { compact: true, empty: t('rules.none') }),
    form);
}

export default {
  name: 'senders',
  nav: true,
  filters: ['domain', 'range', 'reporter'],
  async render(ctx) {
    const { range, params } = ctx;
    const base = { since: range.since, until: range.until, domain: params.domain, reporter: params.reporter };
    const [d, cc, rules, en] = await Promise.all([api.get('senders', base), api.get('senders/countries', base),
      api.get('rules'), api.get('enrichment').catch(() => null)]);
    if (ctx.stale()) return;
    const rerender = async () => { if (!ctx.stale()) ctx.update({}); };
    const tot = d.totals;
    if (!tot.messages) {
      mount(ctx.main, h('h1', null, t('senders.title')), rangeLine(ctx), enrichNotice(en),
        ctx.meta?.extent?.last_day ? noDataInRange(ctx) : emptyState(t('senders.empty_title'), t('senders.empty_body')),
        rulesCard(ctx, rules.rules, rerender));
      return;
    }
    const bySec = new Map(SECTIONS.map((s) => [s, []]));
    for (const g of d.groups) (bySec.get(g.section) || bySec.get('others')).push(g);
    const mapEl = h('div', { class: 'map', id: 'world-map' }, h('p', { class: 'loading' }, t('common.loading')));
    mount(ctx.main,
      h('h1', null, t('senders.title')),
      rangeLine(ctx),
      h('p', { class: 'lead' }, t('senders.lead')),
      enrichNotice(en),
      tiles([
        [t('tile.sources'), num(tot.sources)],
        [t('tile.groups'), num(tot.groups)],
        [t('tile.messages'), num(tot.messages)],
        [t('tile.dmarc_pass'), pct(tot.pass_rate), null, tot.pass_rate >= 98 ? 'ok' : tot.pass_rate >= 90 ? 'warn' : 'bad'],
        [t('class.spoofing'), num(tot.classes.spoofing || 0), tot.messages ? pct(100 * (tot.classes.spoofing || 0) / tot.messages) : null, tot.classes.spoofing ? 'bad' : null],
        [t('class.misconfigured'), num(tot.classes.misconfigured || 0), null, tot.classes.misconfigured ? 'warn' : null],
      ]),
      h('section', { class: 'card', id: 'class-breakdown' }, h('h2', null, t('senders.breakdown')),
        classBar(tot.classes, { width: 600 }), classLegend(),
        h('ul', { class: 'inline-list cls-counts' }, CLASSES.map((c) => h('li', null,
          h('a', { href: ctx.link('sources', null, { domain: params.domain, class: c }) }, t('class.' + c)), ' ', num(tot.classes[c] || 0))))),
      SECTIONS.map((s) => bySec.get(s).length ? h('section', { class: 'card sender-section', id: 'section-' + s },
        h('h2', null, t('senders.section.' + s), ' ', h('span', { class: 'muted small' }, t('senders.groups_count', { count: bySec.get(s).length }))),
        h('p', { class: 'hint' }, t('senders.section_hint.' + s)),
        groupsTable(ctx, bySec.get(s), base, rerender)) : null),
      h('section', { class: 'card', id: 'map-card' }, h('h2', null, t('map.title')),
        h('div', { class: 'map-row' }, h('div', null, mapEl, mapLegend(),
          cc.unknown && cc.unknown.sources ? h('p', { class: 'hint' }, t('map.unknown', { sources: cc.unknown.sources, messages: cc.unknown.messages })) : null),
        countriesTable(ctx, cc))),
      rulesCard(ctx, rules.rules, rerender),
      h('p', { class: 'hint' }, t('senders.hint')));
    try {
      await worldMap(mapEl, cc.countries, { onSelect: (c) => ctx.go(ctx.link('sources', null, { country: c })) });
    } catch (e) {
      if (!ctx.stale()) mount(mapEl, h('p', { class: 'bad-text' }, t('map.failed', { message: e.message })));
    }
  },
};
