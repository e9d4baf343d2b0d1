// Sign-in with an API key, the navigation, and the router: the page is chosen by the location hash (#/rfm, #/segments/x).
import { api, session, ApiError } from './api.js';
import { h, errorBox } from './ui.js';
import * as overview from './pages/overview.js';
import * as segments from './pages/segments.js';
import * as journeys from './pages/journeys.js';
import * as messages from './pages/messages.js';
import * as newsletter from './pages/newsletter.js';
import * as rfm from './pages/rfm.js';
import * as anonymous from './pages/anonymous.js';
import * as explorer from './pages/explorer.js';
import * as status from './pages/status.js';

// route name → page; `admin` pages are neither listed nor served to a marketing key.
const pages = [
  { route: '', title: 'Funnel', page: overview },
  { route: 'segments', title: 'Segments', page: segments },
  { route: 'journeys', title: 'Journeys', page: journeys },
  { route: 'messages', title: 'Channels', page: messages },
  { route: 'newsletter', title: 'Newsletter', page: newsletter },
  { route: 'rfm', title: 'RFM', page: rfm },
  { route: 'anonymous', title: 'Anonymous', page: anonymous },
  { route: 'explorer', title: 'Visitor explorer', page: explorer, admin: true },
  { route: 'status', title: 'Status', page: status },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');

signOut.addEventListener('click', () => {
  session.key = null;
  session.me = null;
  location.hash = '';
  start();
});

function signInForm(message) {
  nav.replaceChildren();
  who.textContent = '';
  signOut.hidden = true;
  const key = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off', required: true });
  const feedback = h('div', {}, message ?? null);
  const form = h('form', { class: 'sign-in', id: 'sign-in' },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'key' }, 'API key (marketing or admin)'), key,
    h('button', { type: 'submit' }, 'Sign in'), feedback);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    try {
      const me = await api('/v1/keys/me', { key: key.value.trim() });
      if (me.scope === 'ingest') {
        feedback.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'This key cannot read reports: sign in with a marketing or admin key.'));
        return;
      }
      session.key = key.value.trim();
      session.me = me;
      signedIn();
    } catch (error) {
      feedback.replaceChildren(errorBox(error));
    }
  });
  main.replaceChildren(form);
  key.focus();
}

function allowed() { return pages.filter(p => !p.admin || session.admin); }

function signedIn() {
  who.textContent = `${session.me.name} (${session.me.scope})`;
  who.dataset.scope = session.me.scope;
  signOut.hidden = false;
  nav.replaceChildren(...allowed().map(p => h('a', { href: `#/${p.route}`, dataset: { route: p.route } }, p.title)));
  route();
}

let current = 0;
async function route() {
  if (!session.me) return;
  const [name = '', ...rest] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [path, search = ''] = [name.split('?')[0], location.hash.split('?')[1] ?? ''];
  const entry = allowed().find(p => p.route === path);
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.route === path);
  const view = h('div', { id: 'view', dataset: { page: entry ? path || 'funnel' : 'none' } });
  main.replaceChildren(view);
  if (!entry) {
    view.append(h('div', { class: 'error', role: 'alert' }, pages.some(p => p.route === path) ? 'This page needs an admin key.' : 'No such page.'));
    return;
  }
  const mine = ++current;
  try {
    await entry.page.render(view, { id: rest.map(s => s.split('?')[0]).filter(Boolean)[0], params: Object.fromEntries(new URLSearchParams(search)) });
  } catch (error) {
    if (mine !== current) return;
    if (error instanceof ApiError && error.status === 401) { session.key = null; session.me = null; signInForm(errorBox(error)); return; }
    view.append(errorBox(error));
  }
}

async function start() {
  if (!session.key) { signInForm(); return; }
  try {
    session.me = await api('/v1/keys/me');
    if (session.me.scope === 'ingest') throw new Error('This key cannot read reports.');
    signedIn();
  } catch (error) {
    session.key = null;
    signInForm(errorBox(error));
  }
}

window.addEventListener('hashchange', route);
start();
