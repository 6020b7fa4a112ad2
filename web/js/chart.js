// chart.js - the dashboard's charts, all drawn by uPlot (pinned from npm,
// vendored to /vendor/uplot/).  Colours are the Okabe-Ito palette, which
// stays distinguishable with the common colour-vision deficiencies; every
// series also has its own legend entry showing the exact number under the
// cursor, so colour is never the only cue.
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { t, num, pct, date, shortDate, getZone } from './i18n.js';
import { bucketDate, midnight, datesBetween } from './time.js';
import { h } from './dom.js';

export const COLORS = {
  pass: '#009E73',            // bluish green
  fail_none: '#E69F00',       // orange
  fail_quarantine: '#CC79A7', // reddish purple
  fail_reject: '#D55E00',     // vermillion
  rate: '#0072B2',            // blue
  total: '#56B4E9',           // sky blue
};
const STACK = ['pass', 'fail_none', 'fail_quarantine', 'fail_reject'];

// API buckets -> one value per viewer date between range.from and range.to.
export function perDate(series, range) {
  const dates = datesBetween(range.from, range.to);
  const index = new Map(dates.map((d, i) => [d, i]));
  const out = { dates, x: dates.map((d) => midnight(d)) };
  for (const k of STACK) out[k] = new Array(dates.length).fill(0);
  (series.days || []).forEach((day, i) => {
    const j = index.get(bucketDate(day));
    if (j === undefined) return;
    for (const k of STACK) out[k][j] += series[k][i];
  });
  out.total = out.x.map((_, i) => STACK.reduce((s, k) => s + out[k][i], 0));
  out.rate = out.total.map((n, i) => (n ? Math.floor((1000 * out.pass[i]) / n) / 10 : null));
  return out;
}

function tzDate(ts) { return uPlot.tzDate(new Date(ts * 1e3), getZone()); }

function observeWidth(el, plot, height) {
  if (typeof ResizeObserver === 'undefined') return;
  const ro = new ResizeObserver(() => {
    const w = Math.max(280, el.clientWidth);
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height });
  });
  ro.observe(el);
}

// Messages per day stacked by result / disposition + DMARC pass-rate line.
export function dailyChart(el, data, { height = 300, width } = {}) {
  // Stacks are drawn as bars of cumulative height, tallest first, so each
  // visible band is one category; legends show the category's own count.
  const cum = [];
  let acc = new Array(data.x.length).fill(0);
  for (const k of STACK) { acc = acc.map((v, i) => v + data[k][i]); cum.push(acc); }
  const order = [3, 2, 1, 0];
  const bars = uPlot.paths.bars({ size: [0.7, 40], gap: 1 });
  const opts = {
    width: width || Math.max(280, el.clientWidth || 800),
    height,
    tzDate,
    legend: { live: true },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: {
      x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] },
      y: { range: (u, lo, hi) => [0, Math.max(10, hi * 1.08)] },
      pct: { range: [0, 100] },
    },
    axes: [
      { values: (u, splits) => splits.map((s) => shortDate(s)), grid: { stroke: '#eceff3' } },
      { values: (u, splits) => splits.map((s) => num(s)), grid: { stroke: '#eceff3' }, size: 60,
        label: t('chart.messages') },
      { scale: 'pct', side: 1, values: (u, splits) => splits.map((s) => pct(s)), grid: { show: false },
        size: 56, label: t('chart.pass_rate') },
    ],
    series: [
      { label: t('chart.date'), value: (u, v) => (v == null ? '—' : date(v)) },
      ...order.map((i) => ({
        label: t('result.' + STACK[i]),
        stroke: COLORS[STACK[i]],
        fill: COLORS[STACK[i]],
        width: 0,
        paths: bars,
        points: { show: false },
        value: (u, v, si, idx) => (idx == null ? '—' : num(data[STACK[i]][idx])),
      })),
      { label: t('chart.pass_rate'), scale: 'pct', stroke: COLORS.rate, width: 2,
        points: { show: true, size: 4, fill: COLORS.rate },
        value: (u, v) => (v == null ? '—' : pct(v)) },
    ],
  };
  const plot = new uPlot(opts, [data.x, ...order.map((i) => cum[i]), data.rate], el);
  if (!width) observeWidth(el, plot, height);
  return plot;
}

// Tiny trend: messages per day (sky blue) with the failing part (vermillion).
// spark: [[day, messages, pass], ...] UTC buckets.
export function sparkline(el, spark, range) {
  const series = { days: [], pass: [], fail_none: [], fail_quarantine: [], fail_reject: [] };
  for (const [day, m, p] of spark || []) {
    series.days.push(day); series.pass.push(p); series.fail_none.push(m - p);
    series.fail_quarantine.push(0); series.fail_reject.push(0);
  }
  const d = perDate(series, range);
  const bars = uPlot.paths.bars({ size: [0.8, 8], gap: 0 });
  const plot = new uPlot({
    width: 132, height: 30, tzDate,
    legend: { show: false }, cursor: { show: false }, select: { show: false },
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: COLORS.total, fill: COLORS.total, width: 0, paths: bars, points: { show: false } },
      { stroke: COLORS.fail_reject, fill: COLORS.fail_reject, width: 0, paths: bars, points: { show: false } }],
  }, [d.x, d.total, d.fail_none], el);
  const failing = d.fail_none.reduce((a, b) => a + b, 0);
  const total = d.total.reduce((a, b) => a + b, 0);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', t('overview.spark_label', { messages: total, fail: failing }));
  return plot;
}

// A legend-like key for printed pages (uPlot's live legend is for screens).
export function staticKey() {
  return h('ul', { class: 'chart-key' }, [...STACK, 'rate'].map((k) =>
    h('li', null, h('span', { class: 'swatch sw-' + k, 'aria-hidden': 'true' }),
      k === 'rate' ? t('chart.pass_rate') : t('result.' + k))));
}
