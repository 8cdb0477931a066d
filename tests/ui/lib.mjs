// Shared by the browser tests: Debian's chromium driven by playwright-core,
// axe-core for accessibility, and the daemon the python wrapper
// (tests/e2e/test_ui.py) started.  Settings come from the environment:
//   JG_UI_URL      the daemon's base URL (http://127.0.0.1:PORT)
//   JG_UI_ENV      a JSON file: tokens, the daemon's pid and config paths,
//                  the gateway port, ... (see test_ui.py)
//   JG_CHROMIUM    the browser (default /usr/bin/chromium)
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
export const HERE = dirname(fileURLToPath(import.meta.url));
export const URL_ = process.env.JG_UI_URL;
export const ENV = process.env.JG_UI_ENV ? JSON.parse(readFileSync(process.env.JG_UI_ENV, 'utf8')) : {};
export const CHROMIUM = process.env.JG_CHROMIUM || '/usr/bin/chromium';

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

// One browser per test file.  playwright starts chromium with a fresh
// profile (--user-data-dir in a new temporary directory) every launch and
// removes it at close; each person gets a context of their own (own
// cookies), as if on their own machine.
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A person's own browser context and page, watching for what must never
// happen: a JavaScript dialog (XSS), a page error, a CSP violation.
export async function person(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport || DESKTOP,
    colorScheme: opts.colorScheme || 'light',
    reducedMotion: 'reduce',
    timezoneId: opts.timezoneId || 'UTC',
    locale: 'en-GB',
  });
  // generous: the machine may be loaded; a missing element still fails
  context.setDefaultTimeout(90000);
  const page = await context.newPage();
  page.problems = [];
  page.on('dialog', async (d) => {
    page.problems.push(`dialog: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  // requests sent and not yet answered, for a wait that times out to name
  page.inflight = new Set();
  page.on('request', (r) => page.inflight.add(r));
  page.on('requestfinished', (r) => page.inflight.delete(r));
  // and what went wrong on the way, for the same message
  page.trouble = [];
  page.on('requestfailed', (r) => {
    page.inflight.delete(r);
    page.trouble.push(`failed: ${r.method()} ${r.url()} ${r.failure() ? r.failure().errorText : ''}`);
  });
  page.on('crash', () => page.trouble.push('the page crashed'));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/.test(t)) page.problems.push(`csp: ${t}`);
    if (m.type() === 'error') page.trouble.push(`console: ${t}`);
  });
  return { context, page };
}

// Signs in with the static-token form, the way a person does.
export async function signIn(page, who, path = '/') {
  await page.goto(URL_ + path);
  await waitShown(page, page.getByLabel('Access token'));
  await page.getByLabel('Access token').fill(ENV.tokens[who]);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.locator('#who-name', { hasText: who }).waitFor();
}

// Signs in at the IdP (tests/idp): the single sign-on button, the IdP's
// own login form, back to the page asked for.
export async function signInIdp(page, who, path = '/') {
  await page.goto(URL_ + path);
  await waitShown(page, page.getByRole('link', { name: 'Sign in with single sign-on' }));
  await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
  await page.getByLabel('Account').fill(who);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#who-name', { hasText: who }).waitFor();
}

// Waits until the page follows the live event stream.
export async function live(page) {
  await page.locator('#live', { hasText: 'Live' }).waitFor();
}

// A new person, signed in.
export async function signedIn(browser, who, opts = {}) {
  const p = await person(browser, opts);
  await signIn(p.page, who, opts.path || '/');
  return p;
}

// The API as a person with a bearer token (for setting the scene and
// checking outcomes outside the browser).
export async function api(who, method, path, body) {
  const res = await fetch(URL_ + path, {
    method,
    headers: { Authorization: `Bearer ${ENV.tokens[who]}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch (e) { /* text */ }
  return { status: res.status, body: data };
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// axe-core on the page as it is; returns the serious and critical
// violations (evaluated through the DevTools protocol, so the page's CSP
// stays as strict as in production).
export async function axe(page) {
  await settled(page);
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const res = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

// locator.waitFor(), and if it times out, the error says what the page
// was still waiting for from the server and what it showed
export async function waitShown(page, locator) {
  try {
    await locator.waitFor();
  } catch (e) {
    const pending = [...page.inflight].map((r) => `${r.method()} ${r.url()}`);
    const shown = await page.locator('main').innerText({ timeout: 2000 }).catch(() => '(unreadable)');
    throw new Error(`${e.message}\npage ${page.url()}\nunanswered requests: ${pending.join(', ') || 'none'}\n` +
      `went wrong: ${page.trouble.slice(-10).join('; ') || 'nothing seen'}\npage shows: ${shown.slice(0, 500)}`);
  }
}

// Waits until the page has drawn what it first shows: the app keeps main
// aria-busy until who is signed in, the page's own data, the navigation's
// count and the sign-in probe have arrived.  What a test then reads or
// checks (axe-core above all) does not depend on how fast they came.
export async function settled(page) {
  await waitShown(page, page.locator('#main:not([aria-busy])'));
}

export function noProblems(assert, page) {
  assert.deepEqual(page.problems, [], 'no dialogs, page errors or CSP violations');
}

// Waits until fn() is truthy (polling the API from the test, not from the
// page under test).
export async function until(fn, what, timeoutMs = 45000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Marks the page so that a reload would be noticed.
export async function markNoReload(page) {
  await page.evaluate(() => { window.__jgNoReload = true; });
}
export async function assertNoReload(assert, page) {
  assert.equal(await page.evaluate(() => window.__jgNoReload === true), true, 'the page was not reloaded');
}

// A scene with something on every page: an active read, a pending write
// with two approvals to go, a break-glass grant waiting for review, a
// denied request with its comment.  Returns the ids.
export async function seedScene() {
  const mk = async (who, body) => {
    const r = await api(who, 'POST', '/v1/requests', body);
    if (r.status !== 201) throw new Error(`seed: ${JSON.stringify(r.body)}`);
    return r.body.id;
  };
  const active = await mk('alice', { resource: 'orders-db', role: 'read', duration: '4h', reason: 'look at yesterday\'s orders' });
  const pending = await mk('alice', { resource: 'prod-payments', role: 'write', duration: '45m', reason: 'rotate the payment provider key', ticket: 'OPS-1234' });
  const bg = await mk('erik', { resource: 'billing-api', role: 'admin', duration: '20m', reason: 'billing is down, customers cannot pay', break_glass: true });
  const denied = await mk('alice', { resource: 'billing-api', role: 'admin', duration: '1h', reason: 'change the invoice template', ticket: 'OPS-77' });
  const d = await api('carol', 'POST', `/v1/requests/${denied}/deny`, { comment: 'use the maintenance window on Sunday' });
  if (d.status !== 200) throw new Error(`seed deny: ${JSON.stringify(d.body)}`);
  const half = await mk('erik', { resource: 'orders-db', role: 'write', duration: '30m', reason: 'backfill missing invoices', ticket: 'OPS-1240' });
  const ap = await api('bob', 'POST', `/v1/requests/${half}/approve`, { comment: 'ok from me' });
  if (ap.status !== 200) throw new Error(`seed approve: ${JSON.stringify(ap.body)}`);
  return { active, pending, bg, denied, half };
}

// Every page of the app with who looks at it and what to wait for.
export function pagesOf(ids) {
  return [
    { name: 'signin', who: null, path: '/', ready: 'Sign in to jitgate' },
    // the server's own page where a failed sign-in at the IdP lands
    { name: 'signin-failed', who: null, path: '/auth/callback?error=access_denied', ready: 'Sign-in failed' },
    { name: 'request', who: 'alice', path: '/ui/request', ready: 'Request access' },
    { name: 'request-page', who: 'alice', path: `/ui/requests/${ids.pending}`, ready: 'write on prod-payments' },
    { name: 'request-active', who: 'alice', path: `/ui/requests/${ids.active}`, ready: 'read on orders-db' },
    { name: 'access', who: 'alice', path: '/ui/access', ready: 'My access' },
    { name: 'approvals', who: 'bob', path: '/ui/approvals', ready: 'Approvals' },
    { name: 'grants', who: 'dave', path: '/ui/grants', ready: 'Active grants' },
    { name: 'audit', who: 'erin', path: '/ui/audit', ready: 'Audit' },
  ];
}

// Opens one page of pagesOf() in a fresh context and waits until it is
// drawn.
export async function openPage(browser, pg, opts) {
  const p = pg.who ? await signedIn(browser, pg.who, { ...opts, path: pg.path }) : await person(browser, opts);
  if (!pg.who) await p.page.goto(URL_ + pg.path);
  const start = new RegExp('^' + pg.ready.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  await waitShown(p.page, p.page.getByRole('heading', { name: start }).first());
  // the server's own page has no app to wait for
  if (pg.name !== 'signin-failed') await settled(p.page);
  if (pg.name === 'audit') await p.page.locator('#verify').waitFor();
  if (pg.name === 'signin') await p.page.locator('[data-probed]').waitFor({ state: 'attached' });
  return p;
}

// A TCP relay in front of the daemon, whose connections the test can cut
// (a real dropped connection, not a mocked answer): cut() drops every
// open connection and refuses new ones until restore(); cutRequests(re, n)
// resets the connection that carries each of the next n requests whose
// request line matches re, before the daemon sees it.
export function relay(target) {
  const u = new URL(target);
  const open = new Set();
  let down = false;
  let cutting = null;
  const server = net.createServer((c) => {
    if (down) { c.destroy(); return; }
    const up = net.connect(Number(u.port), u.hostname);
    open.add(c);
    open.add(up);
    const drop = () => { c.destroy(); up.destroy(); open.delete(c); open.delete(up); };
    c.on('error', drop); up.on('error', drop); c.on('close', drop); up.on('close', drop);
    c.on('data', (chunk) => {
      const line = chunk.toString('latin1').split('\r\n')[0];
      if (cutting && cutting.n > 0 && cutting.re.test(line)) {
        cutting.n--;
        cutting.cut.push(line);
        c.resetAndDestroy();
        up.destroy();
        return;
      }
      up.write(chunk);
    });
    up.pipe(c);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { down = true; for (const s of open) s.destroy(); open.clear(); },
    restore() { down = false; },
    cutRequests(re, n) { cutting = { re, n, cut: [] }; return cutting.cut; },
    close() { server.close(); for (const s of open) s.destroy(); },
  })));
}
