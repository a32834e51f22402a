// The shell: a top bar, and the page the URL's hash names. Hash routes (#/machines/lathe01) keep
// the server ignorant of the pages: it serves one index.html at / and the hashed bundles.
//
//   #/                     andon board           (#/?tv: TV layout without the top bar)
//   #/machines/NAME        machine page
//   #/operator[/NAME]      operator view for a tablet
//   #/reports              shift and daily reports
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { live, loginUrl, onSignedOut, session, signOut } from './api';
import { h, text } from './dom';
import { mountBoard } from './pages/board';
import { mountMachine } from './pages/machine';
import { mountOperator } from './pages/operator';
import { mountReports } from './pages/reports';

export type Unmount = () => void;
export interface Route { path: string[]; params: URLSearchParams; }

function parseHash(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p, q] = raw.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q ?? '') };
}

const app = document.getElementById('app')!;
const links: [string, string, string][] = [
  ['board', 'Board', '#/'], ['operator', 'Operator', '#/operator'], ['reports', 'Reports', '#/reports'],
];
const nav = h('nav', { 'aria-label': 'pages' }, ...links.map(([k, label, href]) => h('a', { href, 'data-page': k }, label)));
const conn = h('span.conn', { role: 'status' }, 'live');
// who is signed in, and the way out
const who = h('span.who', { 'aria-label': 'signed in as' });
const out = h('button.btn.signout', { type: 'button', hidden: true, onclick: () => {
  out.disabled = true;
  signOut().catch((e) => { out.disabled = false; text(who, `Not signed out: ${(e as Error).message}`); });
} }, 'Sign out');
const userBox = h('span.user', null, who, out);
const top = h('header.topbar', null, h('a.brand', { href: '#/' }, 'gemba'), nav, h('span.spacer'), conn, userBox);
const page = h('main#page');
app.append(top, page);

session().then((s) => {
  who.replaceChildren(h('b', null, s.user), ' ', h('span.role', { 'data-role': s.role }, s.role));
  out.hidden = false;
}).catch(() => { /* a 401 is on its way to /login */ });
// the server refuses us even right after a sign-in: a link instead of a redirect loop
onSignedOut(() => who.replaceChildren(h('a', { href: loginUrl() }, 'Not signed in: sign in')));

// whether the server answers, for every page: a board that silently froze would lie
live.onStatus((s) => {
  const stale = !s.ok;
  conn.classList.toggle('stale', stale);
  conn.dataset.stream = s.stream ? 'on' : 'off';
  const ago = s.lastOk ? Math.round((Date.now() - s.lastOk) / 1000) : null;
  text(conn, stale ? (ago !== null ? `no answer for ${ago} s` : 'no answer') : s.stream ? 'live' : 'live (polling)');
  conn.title = s.error ?? (s.stream ? 'changes arrive as they happen (event stream)' : 'the event stream is not connected: data is read every second');
});

let unmount: Unmount | null = null;
function route() {
  unmount?.();
  unmount = null;
  page.replaceChildren();
  document.body.classList.remove('tv');
  const r = parseHash();
  const which = r.path[0] === 'machines' && r.path[1] ? 'machine'
    : r.path[0] === 'operator' ? 'operator'
    : r.path[0] === 'reports' ? 'reports' : 'board';
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === (which === 'machine' ? '' : which));
  window.scrollTo(0, 0);
  if (which === 'machine') unmount = mountMachine(page, r.path[1], r.params);
  else if (which === 'operator') unmount = mountOperator(page, r.path[1] ?? null);
  else if (which === 'reports') unmount = mountReports(page, r.params);
  else unmount = mountBoard(page, r.params);
}
window.addEventListener('hashchange', route);
route();
