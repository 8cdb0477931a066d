// The app shell: who is signed in, the navigation, routing between pages
// in the browser (history API), the live connection and its banner.
import { announce, h, replace } from './dom.js';
import { get, listRequests, post, setCsrf, whenSignedOut } from './api.js';
import { onLiveState, startLive, stopLive, subscribe } from './live.js';
import { tick } from './fmt.js';
import { signinPage } from './signin.js';
import { requestFormPage } from './request_form.js';
import { requestPage } from './request_page.js';
import { accessPage } from './access.js';
import { approvalsPage } from './approvals.js';
import { grantsPage } from './grants.js';
import { auditPage } from './audit.js';

const main = document.getElementById('main');
let me = null;
let loading = 0;

// main is aria-busy while what a page first shows is still on its way
// (who is signed in, the page's own data, the navigation's count, the
// sign-in probe): assistive technology waits for it, and so can a test.
// index.html starts it busy; the spans overlap until the page is drawn.
function busyWhile(promise) {
  loading++;
  main.setAttribute('aria-busy', 'true');
  const done = () => { if (--loading === 0) main.removeAttribute('aria-busy'); };
  promise.then(done, done);
  return promise;
}
let catalogPromise = null;
let pageCleanups = [];
let renderSeq = 0;

const ROUTES = [
  [/^\/$/, 'request', requestFormPage],
  [/^\/ui\/request$/, 'request', requestFormPage],
  [/^\/ui\/requests\/([1-9][0-9]{0,17})$/, null, requestPage],
  [/^\/ui\/access$/, 'access', accessPage],
  [/^\/ui\/approvals$/, 'approvals', approvalsPage],
  [/^\/ui\/grants$/, 'grants', grantsPage],
  [/^\/ui\/audit$/, 'audit', auditPage],
];

// What a page gets: who is signed in, the catalog, navigation, and live
// events that stop when the page is left.
const ctx = {
  get me() { return me; },
  catalog() {
    if (!catalogPromise) {
      catalogPromise = get('/v1/catalog').then((c) => c.entries || []);
      catalogPromise.catch(() => { catalogPromise = null; });
    }
    return catalogPromise;
  },
  navigate,
  onRequest(fn) { pageCleanups.push(subscribe(fn)); },
  onResync(fn) { pageCleanups.push(onLiveState((s) => { if (s === 'resync') fn(); })); },
  title(text) { document.title = text ? `${text} · jitgate` : 'jitgate'; },
  refreshCounts: () => refreshCounts(),
};

function samePath(href) {
  const u = new URL(href, location.href);
  return u.origin === location.origin ? u.pathname + u.search : null;
}

export function navigate(path, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render(true);
}

async function render(moved) {
  const seq = ++renderSeq;
  for (const fn of pageCleanups) fn();
  pageCleanups = [];
  const path = location.pathname;
  if (!me) {
    showSignin();
    return;
  }
  if (path === '/ui/signin') {
    navigate(nextFrom(location.search) || '/', { replace: true });
    return;
  }
  let found = null;
  for (const [re, navKey, page] of ROUTES) {
    const m = re.exec(path);
    if (m) { found = { navKey, page, arg: m[1] }; break; }
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (found && a.dataset.page === found.navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'view' });
  if (!found) {
    ctx.title('Not found');
    replace(main, h('h1', {}, 'No such page'),
      h('p', {}, h('a', { href: '/', 'data-nav': true }, 'Go to the request page')));
  } else {
    replace(main, view);
    try {
      await busyWhile(found.page(view, ctx, found.arg, new URLSearchParams(location.search)));
    } catch (e) {
      if (seq !== renderSeq) return;
      replace(view, h('div', { class: 'notice bad', role: 'alert' }, e.message || String(e)));
    }
  }
  if (moved && seq === renderSeq) {
    // move focus to the new page for keyboard and screen-reader users
    const h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); } else main.focus();
  }
}

function nextFrom(search) {
  const n = new URLSearchParams(search).get('next');
  // same-origin paths only
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : null;
}

function showSignin() {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('live').hidden = true;
  const next = location.pathname === '/ui/signin'
    ? nextFrom(location.search) : location.pathname + location.search;
  if (location.pathname !== '/ui/signin' && location.pathname !== '/') {
    history.replaceState(null, '', '/ui/signin?next=' + encodeURIComponent(next));
  }
  ctx.title('Sign in');
  busyWhile(signinPage(main, { next: next || '/', onSignedIn: () => busyWhile(boot(true)) }));
}

// Approvals count in the navigation, and whether to offer Active grants.
// Calls within 50 ms make one fetch; the promise settles when the count
// is drawn.
let countTimer = null;
let countWaiters = [];
function refreshCounts() {
  clearTimeout(countTimer);
  return new Promise((resolve) => {
    countWaiters.push(resolve);
    countTimer = setTimeout(async () => {
      const waiters = countWaiters;
      countWaiters = [];
      try {
        const mine = await listRequests({ approvable: 1 }, 500);
        const el = document.getElementById('approvals-count');
        el.textContent = String(mine.length);
        el.hidden = mine.length === 0;
        el.setAttribute('aria-label', `${mine.length} waiting for you`);
      } catch (e) { /* the page says what is wrong */ }
      for (const w of waiters) w();
    }, 50);
  });
}

async function showGrantsNav() {
  if (me.admin) return true;
  // approvers see the requests of the policies they approve for
  try {
    const page = await get('/v1/requests?limit=50');
    return page.requests.some((r) => r.requester !== me.subject);
  } catch (e) {
    return false;
  }
}

const liveEl = document.getElementById('live');
onLiveState((s) => {
  if (s === 'resync') return;
  liveEl.hidden = s === 'stopped' || s === 'idle';
  const down = s === 'reconnecting';
  liveEl.classList.toggle('down', down);
  liveEl.textContent = down ? 'Connection lost — reconnecting…' : s === 'live' ? 'Live' : 'Connecting…';
  if (down) announce('Connection lost, reconnecting');
});
let wasDown = false;
onLiveState((s) => {
  if (s === 'reconnecting') wasDown = true;
  if (s === 'live' && wasDown) { wasDown = false; announce('Live updates restored'); }
});

subscribe(() => refreshCounts());
onLiveState((s) => { if (s === 'resync') refreshCounts(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Who is signed in (null: nobody).  Asked again, with growing pauses,
// while jitgate cannot be reached, answers 429/5xx or leaves the call
// unanswered for 15 s: a page opened while the daemon restarts, or whose
// first call lost its connection, used to stay on "jitgate did not
// answer" (or "Loading…") until reloaded by hand.
async function whoami() {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
    try {
      return await get('/v1/whoami', { timeoutMs: 15000 });
    } catch (e) {
      if (e.status === 401) return null;
      if (e.status !== 0 && e.status !== 429 && e.status < 500) throw e;
      replace(main, h('div', { class: 'notice bad', role: 'alert' },
        `jitgate did not answer: ${e.message}. Trying again…`));
    }
    await sleep(delay + Math.random() * 250);
  }
}

async function boot(moved) {
  try {
    me = await whoami();
  } catch (e) {
    me = null;
    replace(main, h('div', { class: 'notice bad', role: 'alert' },
      'jitgate did not answer: ' + e.message));
    return;
  }
  setCsrf(me && me.csrf);
  catalogPromise = null;
  if (!me) {
    render(moved);
    return;
  }
  document.getElementById('who-name').textContent = me.subject;
  document.getElementById('who').hidden = false;
  document.getElementById('nav').hidden = false;
  document.getElementById('nav-audit').hidden = !(me.auditor || me.admin);
  document.getElementById('nav-grants').hidden = true;
  busyWhile(showGrantsNav().then((ok) => { document.getElementById('nav-grants').hidden = !ok; }));
  startLive(signedOut);
  busyWhile(refreshCounts());
  await render(moved);
}

function signedOut() {
  if (!me) return;
  me = null;
  setCsrf(null);
  stopLive();
  render(false);
}

whenSignedOut(signedOut);

document.getElementById('logout').addEventListener('click', async () => {
  try { await post('/auth/logout'); } catch (e) { /* gone either way */ }
  signedOut();
  history.replaceState(null, '', '/');
  announce('Signed out');
});

// In-app links: <a data-nav href="/ui/...">
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-nav]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const path = samePath(a.href);
  if (!path) return;
  ev.preventDefault();
  navigate(path);
});
window.addEventListener('popstate', () => render(true));
setInterval(tick, 1000);
busyWhile(boot(false));
