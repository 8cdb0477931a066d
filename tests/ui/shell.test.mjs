// The app as served, before anyone signs in: the sign-in page works under
// the strict CSP, is accessible at desktop and phone width in light and
// dark, a deep link keeps where it was going, and no other site may frame
// the app.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launch, person, signInIdp, axe, noProblems, waitShown, relay, URL_, PHONE, DESKTOP } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

for (const colorScheme of ['light', 'dark']) {
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    test(`sign-in page, ${colorScheme}, ${name}: renders under the CSP, no serious axe findings`, { timeout: 600000 }, async () => {
      const { context, page } = await person(browser, { colorScheme, viewport });
      await page.goto(URL_ + '/');
      await waitShown(page, page.getByRole('heading', { name: 'Sign in to jitgate' }));
      await page.getByLabel('Access token').waitFor();
      assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([src]), [style]').length), 0,
        'no inline script or style');
      assert.deepEqual(await axe(page), []);
      // nothing wider than the screen (phone)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
      noProblems(assert, page);
      await context.close();
    });
  }
}

test('a deep link while signed out goes to sign-in and remembers where it was going', { timeout: 600000 }, async () => {
  const { context, page } = await person(browser);
  await page.goto(URL_ + '/ui/requests/42');
  // (once in an ASan run this wait timed out with nothing in the daemon's
  // log: the error now says which request was left unanswered)
  await waitShown(page, page.getByRole('heading', { name: 'Sign in to jitgate' }));
  const u = new URL(page.url());
  assert.equal(u.pathname, '/ui/signin');
  assert.equal(u.searchParams.get('next'), '/ui/requests/42');
  noProblems(assert, page);
  await context.close();
});

// The page's first call (who is signed in) losing its connection, as when
// jitgate restarts under an open tab: chromium gives up on it after its own
// retries, and the app used to stay on "jitgate did not answer" for good.
// Through a relay that resets the connection of each of the first four.
test('a deep link whose first calls lose their connection tries again and gets to sign-in', { timeout: 600000 }, async () => {
  const net1 = await relay(URL_);
  const { context, page } = await person(browser);
  try {
    const cut = net1.cutRequests(/^GET \/v1\/whoami /, 4);
    await page.goto(net1.url + '/ui/requests/42');
    await waitShown(page, page.getByRole('heading', { name: 'Sign in to jitgate' }));
    assert.equal(cut.length, 4, 'four calls were cut');
    const u = new URL(page.url());
    assert.equal(u.pathname, '/ui/signin');
    assert.equal(u.searchParams.get('next'), '/ui/requests/42');
    assert.equal(await page.getByRole('alert').filter({ hasText: 'did not answer' }).count(), 0);
    noProblems(assert, page);
  } finally {
    // an open listener would keep node (and the test file) running
    await context.close();
    net1.close();
  }
});

test('single sign-on at the IdP lands on the page that was asked for; sign-out ends the session', async () => {
  const { context, page } = await person(browser);
  await signInIdp(page, 'bob', '/ui/approvals');
  assert.equal(new URL(page.url()).pathname, '/ui/approvals');
  await page.getByRole('heading', { name: 'Approvals', exact: true }).waitFor();
  const cookie = (await context.cookies()).find((c) => c.name === 'jitgate_session');
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax', 'HttpOnly, SameSite=Lax session cookie');
  assert.equal(await page.evaluate(() => document.cookie.includes('jitgate_session')), false);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to jitgate' }).waitFor();
  // the old cookie no longer works (ended server side, not just forgotten)
  const res = await fetch(URL_ + '/v1/whoami', { headers: { Cookie: `jitgate_session=${cookie.value}` } });
  assert.equal(res.status, 401);
  noProblems(assert, page);
  await context.close();
});

test('a wrong token is refused beside the field, and nothing is stored in the browser', { timeout: 600000 }, async () => {
  const { context, page } = await person(browser);
  await page.goto(URL_ + '/');
  await page.getByLabel('Access token').fill('not-a-token-at-all');
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  const err = page.locator('#token-error');
  await err.filter({ hasText: 'That token is not valid.' }).waitFor();
  assert.equal(await page.getByLabel('Access token').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual((await context.cookies()).filter((c) => c.name === 'jitgate_session'), []);
  noProblems(assert, page);
  await context.close();
});

test('another site cannot frame the app (frame-ancestors none)', { timeout: 600000 }, async () => {
  // "localhost" is another site than "127.0.0.1"
  const target = URL_ + '/';
  const evil = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><title>evil</title><iframe id="f" src="${target}"></iframe>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  const { context, page } = await person(browser);
  const blocked = new Promise((resolve) => {
    page.on('console', (m) => { if (/frame-ancestors|Refused to frame/.test(m.text())) resolve(true); });
  });
  await page.goto(`http://localhost:${evil.address().port}/`);
  const frameLoaded = page.frames().find((f) => f !== page.mainFrame());
  assert.equal(await blocked, true, 'chromium reports the framing refused');
  if (frameLoaded) {
    const hasApp = await frameLoaded.evaluate(() => !!document.getElementById('main')).catch(() => false);
    assert.equal(hasApp, false, 'the app did not load inside the frame');
  }
  await context.close();
  evil.close();
});
