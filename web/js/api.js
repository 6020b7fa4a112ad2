// api.js - the JSON API client.  Every number on screen comes from here.
export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '' || v === false) continue;
    u.set(k, v === true ? '1' : String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export async function get(path, params) {
  let r;
  try {
    r = await fetch('/api/' + path + qs(params), { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) {
    const e = body && body.error ? body.error : { code: 'http', message: 'HTTP ' + r.status };
    throw new ApiError(r.status, e.code, e.message);
  }
  return body;
}

export async function upload(files) {
  const fd = new FormData();
  for (const f of files) fd.append('file', f, f.name);
  const r = await fetch('/api/upload', { method: 'POST', body: fd, headers: { 'X-Dmarcstat-Upload': '1' } });
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) {
    const e = body && body.error ? body.error : { code: 'http', message: 'HTTP ' + r.status };
    throw new ApiError(r.status, e.code, e.message);
  }
  return body;
}

// Changes (sender rules): JSON bodies with the header a cross-site page
// cannot send without a CORS preflight, which the server never allows.
export async function send(method, path, body) {
  const headers = { Accept: 'application/json', 'X-Dmarcstat-Action': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch('/api/' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  let res = null;
  try { res = await r.json(); } catch { res = null; }
  if (!r.ok) {
    const e = res && res.error ? res.error : { code: 'http', message: 'HTTP ' + r.status };
    throw new ApiError(r.status, e.code, e.message);
  }
  return res;
}
