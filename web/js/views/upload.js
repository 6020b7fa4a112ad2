// views/upload.js - drop report files (xml, gz, zip, eml, mbox) in the
// browser; they go through the same import path as `dmarcstat import`,
// and the result of each file comes back from the ingest ledger.
import { h, mount, table } from '../dom.js';
import { t, num, bytes } from '../i18n.js';
import * as api from '../api.js';
import { reasonText } from '../reasons.js';
import { statusBadge } from './ledger.js';

const ACCEPT = '.xml,.gz,.zip,.eml,.mbox,.msg,.txt,application/xml,text/xml,application/gzip,application/zip,message/rfc822';

export default {
  name: 'upload',
  nav: true,
  filters: [],
  async render(ctx) {
    const results = h('div', { id: 'upload-results', 'aria-live': 'polite' });
    const input = h('input', { type: 'file', id: 'upload-input', multiple: true, accept: ACCEPT, class: 'visually-hidden' });
    const chosen = h('p', { class: 'muted', id: 'upload-chosen' }, t('upload.none_chosen'));
    let files = [];
    const setFiles = (list) => {
      files = [...list];
      chosen.textContent = files.length ? t('upload.chosen', { count: files.length, size: bytes(files.reduce((a, f) => a + f.size, 0)) }) : t('upload.none_chosen');
      send.disabled = !files.length;
    };
    input.addEventListener('change', () => setFiles(input.files));
    const zone = h('label', { class: 'dropzone', for: 'upload-input', id: 'dropzone' },
      h('strong', null, t('upload.drop')), h('span', null, t('upload.or_choose')), h('span', { class: 'muted' }, t('upload.types')));
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); setFiles(e.dataTransfer.files); });
    const send = h('button', { type: 'submit', id: 'upload-send', class: 'primary', disabled: true }, t('upload.send'));
    const form = h('form', { class: 'card upload', onsubmit: async (e) => {
      e.preventDefault();
      if (!files.length) return;
      send.disabled = true;
      document.body.dataset.ready = '0';
      mount(results, h('p', { class: 'loading' }, t('upload.sending')));
      try {
        const r = await api.upload(files);
        mount(results, renderResults(ctx, r));
        await ctx.refreshMeta();
      } catch (err) {
        mount(results, h('div', { class: 'notice bad', role: 'alert' }, t('upload.failed', { message: err.message })));
      }
      send.disabled = false;
      document.body.dataset.ready = '1';
    } }, input, zone, chosen, h('p', null, send));
    mount(ctx.main, h('h1', null, t('upload.title')), h('p', { class: 'lead' }, t('upload.lead')), form, results);
  },
};

function renderResults(ctx, r) {
  const s = r.stats;
  return h('section', { class: 'card' }, h('h2', null, t('upload.results')),
    h('p', { id: 'upload-summary' }, t('upload.summary', { imported: s.imported, duplicates: s.duplicates,
      rejected: s.rejected + s.not_report + s.unsupported + s.errors, messages: s.messages })),
    table([
      { key: 'name', label: t('col.file'), render: (f) => h('span', { class: 'break' }, f.name) },
      { key: 'size', label: t('col.size'), num: true, render: (f) => bytes(f.size) },
      { key: 'status', label: t('col.status'), render: (f) => statusBadge(f.status) },
      { key: 'entries', label: t('col.details'), render: (f) => h('ul', { class: 'inline-list' }, f.entries.map((e) =>
        h('li', null, (e.member ? e.member + ': ' : '') + t('ledger.status.' + e.status) + (e.reason ? ' — ' + reasonText(e.reason) : ''), ' ',
          e.report ? h('a', { href: ctx.link('report', e.report) }, t('upload.view_report')) : null))) },
    ], r.files, { compact: true }),
    h('p', null, h('a', { href: ctx.link('overview', null) }, t('upload.to_overview')), ' · ',
      h('a', { href: ctx.link('ledger', null) }, t('upload.to_ledger'))));
}
