// Calls to this host's API with the signed-in key. The key is only ever sent to this origin: paths must be
// absolute on it (the Content-Security-Policy's connect-src 'self' enforces the same in the browser).
const KeyName = 'actors.dashboard.key';

export const session = {
  get key() { return sessionStorage.getItem(KeyName); },
  set key(value) { value ? sessionStorage.setItem(KeyName, value) : sessionStorage.removeItem(KeyName); },
  me: null, // { name, scope } from /v1/keys/me
  get admin() { return this.me?.scope === 'admin'; },
};

/** A refused call, with the problem+json the API answered. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, { method = 'GET', body, key = session.key } = {}) {
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`Not a path on this host: ${path}`);
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store', redirect: 'error',
  });
  if (!response.ok) {
    let problem;
    try { problem = await response.json(); } catch { problem = { title: response.statusText || `HTTP ${response.status}` }; }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') q.set(name, value);
  const text = q.toString();
  return text ? `?${text}` : '';
}
