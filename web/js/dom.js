// dom.js - building DOM with DOM APIs only.  Text always goes through
// textContent / createTextNode, so values from reports (org names, report
// IDs, domains: anyone on the Internet can write them) are shown as text
// and never parsed as markup.  There is no innerHTML anywhere in the app.

// h('a', {href: '#/x', class: 'y', onclick: fn, dataset: {k: v}}, child, ...)
// Children: strings/numbers (text), nodes, arrays, null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'href') el.setAttribute('href', safeHref(v));
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Only our own routes, API paths and fragments are links.
function safeHref(v) {
  const s = String(v);
  if (s.startsWith('#') || s.startsWith('/')) return s.startsWith('//') ? '#' : s;
  return '#';
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// A table.  columns: [{key, label, num, sort (server key or true), render(row)}]
// opts: {sort, order, onSort(key), empty, rowClass(row), caption}
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c) => {
    const label = c.label;
    if (!c.sort || !opts.onSort) return h('th', { class: c.num ? 'num' : null, scope: 'col' }, label);
    const key = c.sort === true ? c.key : c.sort;
    const active = opts.sort === key;
    const dir = active ? (opts.order === 'asc' ? 'ascending' : 'descending') : 'none';
    return h('th', { class: c.num ? 'num' : null, scope: 'col', 'aria-sort': dir },
      h('button', { type: 'button', class: 'sort' + (active ? ' active' : ''), dataset: { sort: key },
        onclick: () => opts.onSort(key) }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' },
          active ? (opts.order === 'asc' ? '▲' : '▼') : '↕')));
  }));
  const body = h('tbody', null, rows.map((r) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null },
    columns.map((c) => h('td', { class: c.num ? 'num' : null, dataset: { col: c.key } },
      c.render ? c.render(r) : r[c.key])))));
  const t = h('table', { class: 'data' + (opts.compact ? ' compact' : '') },
    opts.caption ? h('caption', null, opts.caption) : null, h('thead', null, head), body);
  if (!rows.length && opts.empty) return h('div', null, t, h('p', { class: 'empty' }, opts.empty));
  return h('div', { class: 'table-wrap' }, t);
}

// Client-side sort for small tables.
export function sortRows(rows, key, order) {
  const dir = order === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
    return String(x).localeCompare(String(y)) * dir;
  });
}

export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || '') }, text);
}
