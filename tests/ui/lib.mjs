// Shared by the browser tests: Debian's chromium driven by playwright-core,
// axe-core for accessibility, and the daemon the python wrapper
// (tests/e2e/test_ui.py) started.  Settings come from the environment:
//   JG_UI_URL      the daemon's base URL (http://127.0.0.1:PORT)
//   JG_UI_ENV      a JSON file: tokens, the daemon's pid and config paths,
//                  the gateway port, ... (see test_ui.py)
//   JG_CHROMIUM    the browser (default /usr/bin/chromium)
import { readFileSync } from 'node:fs';
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
  const page = await context.newPage();
  page.problems = [];
  page.on('dialog', async (d) => {
    page.problems.push(`dialog: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/.test(t)) page.problems.push(`csp: ${t}`);
  });
  return { context, page };
}

// Signs in with the static-token form, the way a person does.
export async function signIn(page, who, path = '/') {
  await page.goto(URL_ + path);
  await page.getByLabel('Access token').fill(ENV.tokens[who]);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.locator('#who-name', { hasText: who }).waitFor();
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
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const res = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

export function noProblems(assert, page) {
  assert.deepEqual(page.problems, [], 'no dialogs, page errors or CSP violations');
}

// Waits until fn() is truthy (polling the API from the test, not from the
// page under test).
export async function until(fn, what, timeoutMs = 15000) {
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
