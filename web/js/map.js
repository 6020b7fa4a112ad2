// map.js - world map of source countries.  d3-geo, d3-array and
// topojson-client are pinned npm packages whose UMD builds scripts/vendor.sh
// copies to /vendor/; they are loaded on first use as script elements from
// our own origin (the CSP's script-src 'self').  Countries come from
// world-atlas countries-110m.json, whose feature ids are ISO 3166 numeric
// codes; /data/iso3166.json (scripts/gen_iso3166.py, from Debian's
// iso-codes) maps the alpha-2 codes of ip_info.country to them.
//
// Shading: message volume on a log scale in five steps of Okabe-Ito blue;
// countries whose mail is mostly spoofing get a vermillion outline.  Every
// country has a <title> with its numbers and the table next to the map
// repeats them, so colour is never the only cue.
import { t, num, pct } from './i18n.js';
import { svg, countryName } from './intel.js';

let libs = null;

function script(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.addEventListener('load', resolve);
    s.addEventListener('error', () => reject(new Error('cannot load ' + src)));
    document.head.appendChild(s);
  });
}

async function json(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.json();
}

function load() {
  if (!libs) {
    libs = (async () => {
      if (!window.d3 || !window.d3.geoPath) {
        await script('/vendor/d3/d3-array.min.js');
        await script('/vendor/d3/d3-geo.min.js');
      }
      if (!window.topojson) await script('/vendor/topojson/topojson-client.min.js');
      const [world, iso] = await Promise.all([json('/vendor/world-atlas/countries-110m.json'), json('/data/iso3166.json')]);
      const features = window.topojson.feature(world, world.objects.countries).features;
      return { d3: window.d3, features, iso };
    })();
    libs.catch(() => { libs = null; });
  }
  return libs;
}

const W = 960, H = 470;

// Draws into `el` (replacing its content).  countries: [{country, messages,
// sources, dmarc_pass, pass_rate, classes}].  onSelect(cc) on click / Enter.
export async function worldMap(el, countries, { onSelect } = {}) {
  const { d3, features, iso } = await load();
  const byNum = new Map();
  for (const c of countries) if (iso[c.country]) byNum.set(iso[c.country], c);
  const max = Math.max(1, ...countries.map((c) => c.messages));
  const proj = d3.geoNaturalEarth1().fitSize([W, H], { type: 'Sphere' });
  const path = d3.geoPath(proj);
  const map = svg('svg', { class: 'world-map', viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': t('map.label') });
  map.appendChild(svg('path', { class: 'sphere', d: path({ type: 'Sphere' }) }));
  for (const f of features) {
    const c = byNum.get(String(f.id));
    const d = path(f);
    if (!d) continue;
    let level = 0;
    if (c && c.messages > 0) level = 1 + Math.min(4, Math.floor((4 * Math.log10(1 + c.messages)) / Math.log10(2 + max)));
    const spoof = c && c.messages && (c.classes?.spoofing || 0) * 2 > c.messages;
    const p = svg('path', { d, class: 'country lvl' + level + (spoof ? ' spoof' : ''), 'data-cc': c ? c.country : null });
    const name = c ? countryName(c.country) : (f.properties && f.properties.name) || '';
    p.appendChild(svg('title', null, c ? t('map.tip', { name, messages: c.messages, sources: c.sources, pass_pct: c.pass_rate }) : name));
    if (c && onSelect) {
      p.setAttribute('tabindex', '0');
      p.setAttribute('role', 'button');
      p.setAttribute('aria-label', t('map.tip', { name, messages: c.messages, sources: c.sources, pass_pct: c.pass_rate }));
      p.addEventListener('click', () => onSelect(c.country));
      p.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(c.country); } });
    }
    map.appendChild(p);
  }
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(map);
  return map;
}

export function mapLegend() {
  const items = [1, 2, 3, 4, 5].map((l) => [l, l === 1 ? t('map.fewer') : l === 5 ? t('map.more') : '']);
  const root = document.createElement('div');
  root.className = 'map-legend';
  const scale = svg('svg', { width: 150, height: 14, viewBox: '0 0 150 14', 'aria-hidden': 'true' });
  items.forEach(([l], i) => scale.appendChild(svg('rect', { x: i * 30, y: 0, width: 30, height: 14, class: 'country lvl' + l })));
  const lo = document.createElement('span'); lo.textContent = t('map.fewer');
  const hi = document.createElement('span'); hi.textContent = t('map.more');
  const sp = svg('svg', { width: 22, height: 14, viewBox: '0 0 22 14', 'aria-hidden': 'true' });
  sp.appendChild(svg('rect', { x: 1, y: 1, width: 20, height: 12, class: 'country lvl2 spoof' }));
  const spl = document.createElement('span'); spl.textContent = t('map.spoofing');
  root.append(lo, scale, hi, sp, spl);
  return root;
}

export { num, pct };
