// api: the daemon's JSON API, same origin, the browser's client
// certificate. Every refusal becomes an ApiError with the problem+json
// detail and the field it names ("taxes.vat: ..." -> field "taxes.vat").

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
    const m = /^([A-Za-z0-9_.[\]-]+): /.exec(detail || '');
    this.field = m ? m[1] : null;
  }
}

async function problem(res) {
  let detail = res.statusText;
  try {
    const ct = res.headers.get('Content-Type') || '';
    if (ct.startsWith('application/problem+json') ||
        ct.startsWith('application/json')) {
      const p = await res.json();
      if (p && typeof p.detail === 'string') detail = p.detail;
    } else {
      detail = (await res.text()).trim().slice(0, 300) || detail;
    }
  } catch { /* keep the status text */ }
  return new ApiError(res.status, detail);
}

export async function get(path, accept = 'application/json') {
  const res = await fetch(path, { headers: { Accept: accept },
    cache: 'no-store' });
  if (!res.ok) throw await problem(res);
  return res;
}

export async function getJSON(path) {
  return (await get(path)).json();
}

export async function getText(path) {
  return (await get(path, 'text/plain')).text();
}

// POSTs body (a string of JSON); {status, json} of a 200/201.
export async function postJSON(path, body) {
  const res = await fetch(path, { method: 'POST', body,
    headers: { 'Content-Type': 'application/json',
      Accept: 'application/json' } });
  if (!res.ok) throw await problem(res);
  return { status: res.status, json: await res.json() };
}

export const enc = encodeURIComponent;
