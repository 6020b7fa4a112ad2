// reasons.js - the viewer's language for the reasons and warnings the
// server stores in English (ledger reasons, report warnings, upload results).
// The catalog is web/i18n/reasons.json, shared with the CLI
// (src/lib/reasontr.c), and the rules are the same:
//   - an entry's 'en' is the English format: %s any text (shortest first),
//     %d an integer; it must match the whole text; the first entry wins;
//   - 'ja' puts the parts back with %1..%9 (%% is '%'); a %s part is
//     translated in turn, whole or item by item of a ', ' list;
//   - text no entry matches whole is cut at its first ': ' and the rest
//     translated ('part 2 > a.zip: zip: ...');
//   - what cannot be translated is shown as it is.
// The result is text: callers put it into the page as a text node.

import { getLang } from './i18n.js';

const DEPTH = 4;
const MAX = 2048;
let entries = [];

function compile(en) {
  let re = '^';
  let holes = 0;
  for (let i = 0; i < en.length; i++) {
    const c = en[i];
    if (c === '%' && (en[i + 1] === 's' || en[i + 1] === 'd')) {
      re += en[i + 1] === 's' ? '([\\s\\S]*?)' : '(-?\\d+)';
      holes++;
      i++;
    } else if (c === '%' && en[i + 1] === '%') {
      re += '%';
      i++;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return { re: new RegExp(re + '$'), holes, kinds: [...en.matchAll(/%([sd%])/g)].map((m) => m[1]).filter((k) => k !== '%') };
}

export async function loadReasons() {
  try {
    const r = await fetch('/i18n/reasons.json');
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const doc = await r.json();
    entries = (doc.reasons || []).filter((e) => typeof e.en === 'string' && typeof e.ja === 'string')
      .map((e) => ({ ...compile(e.en), ja: e.ja }));
  } catch (e) {
    console.warn('reasons catalog:', e.message);
    entries = [];
  }
}

function trCapture(s, depth) {
  const whole = tr(s, depth);
  if (whole !== null) return whole;
  let done = false;
  const parts = s.split(', ').map((p) => {
    const x = tr(p, depth);
    if (x !== null) done = true;
    return x !== null ? x : p;
  });
  return done ? parts.join(', ') : s;
}

// The translation of s, or null.
function tr(s, depth) {
  if (depth >= DEPTH) return null;
  for (const e of entries) {
    const m = e.re.exec(s);
    if (!m) continue;
    return e.ja.replace(/%([1-9%])/g, (all, k) => {
      if (k === '%') return '%';
      const i = Number(k) - 1;
      if (i >= e.holes) return '';
      return e.kinds[i] === 's' ? trCapture(m[i + 1], depth + 1) : m[i + 1];
    });
  }
  const colon = s.indexOf(': ');
  if (colon >= 0) {
    const rest = tr(s.slice(colon + 2), depth + 1);
    if (rest !== null) return s.slice(0, colon + 2) + rest;
  }
  return null;
}

// A stored English reason in the viewer's language.
export function reasonText(s) {
  if (typeof s !== 'string' || s === '' || getLang() !== 'ja' || s.length > MAX) return s || '';
  const x = tr(s, 0);
  return x !== null ? x : s;
}
