// time.js - calendar dates in the viewer's time zone and the day-bucket rule.
//
// The API stores and returns UTC day buckets (epoch seconds of 00:00 UTC).
// A bucket belongs to the viewer's calendar date of its midpoint,
// bucket + 12 h, in the selected zone (see i18n.js).  A date range
// [from, to] (inclusive dates, as in the URL) is sent to the API as
// since = local midnight of `from`, until = local midnight of the day after `to`.

import { getZone } from './i18n.js';

export const DAY = 86400;
export const HALF_DAY = 43200;

// 'YYYY-MM-DD' of epoch seconds in zone tz.
export function ymd(ts, tz = getZone()) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit',
    day: '2-digit' }).formatToParts(new Date(ts * 1000));
  const g = (t) => parts.find((p) => p.type === t).value;
  return `${g('year')}-${g('month')}-${g('day')}`;
}

// Offset of tz from UTC at epoch seconds ts, in seconds.
function offset(ts, tz) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric',
    month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    .formatToParts(new Date(ts * 1000));
  const g = (t) => Number(parts.find((p) => p.type === t).value);
  const asUtc = Date.UTC(g('year'), g('month') - 1, g('day'), g('hour') % 24, g('minute'), g('second')) / 1000;
  return asUtc - ts;
}

// Epoch seconds of local midnight of 'YYYY-MM-DD' in tz.
export function midnight(s, tz = getZone()) {
  const [y, m, d] = s.split('-').map(Number);
  const utc = Date.UTC(y, m - 1, d) / 1000;
  let ts = utc - offset(utc, tz);
  ts = utc - offset(ts, tz);          // second pass across DST changes
  return ts;
}

export function addDays(s, n) {
  const [y, m, d] = s.split('-').map(Number);
  const dt = new Date(Date.UTC(y, m - 1, d + n));
  return dt.toISOString().slice(0, 10);
}

export function validYmd(s) {
  return typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s + 'T00:00:00Z'));
}

// The viewer's date of a UTC bucket.
export function bucketDate(day, tz = getZone()) { return ymd(day + HALF_DAY, tz); }

// Range from the URL state: {range: '7'|'30'|'90'|'365'|'custom', from, to}.
export function resolveRange(state, now) {
  const today = ymd(now);
  let from, to;
  if (state.range === 'custom' && validYmd(state.from) && validYmd(state.to) && state.from <= state.to) {
    from = state.from; to = state.to;
  } else {
    const n = [7, 30, 90, 365].includes(Number(state.range)) ? Number(state.range) : 30;
    to = today; from = addDays(today, -(n - 1));
  }
  return { from, to, since: midnight(from), until: midnight(addDays(to, 1)) };
}

// Every date from..to (inclusive), for filling chart gaps.
export function datesBetween(from, to) {
  const out = [];
  for (let d = from; d <= to && out.length < 4000; d = addDays(d, 1)) out.push(d);
  return out;
}
