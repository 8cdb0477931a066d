// Hostile text is shown as text on every page that shows it, and another
// site cannot act with a signed-in person's session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launch, signedIn, api, noProblems, URL_ } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script><b>bold</b>';

async function noMarkup(page, where) {
  const found = await page.evaluate(() => ({
    img: document.querySelectorAll('img').length,
    script: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
    b: document.querySelectorAll('main b').length,
  }));
  assert.deepEqual(found, { img: 0, script: 0, b: 0 }, `no markup from user text on ${where}`);
}

test('a reason and a deny comment full of markup render as text everywhere', { timeout: 600000 }, async () => {
  const alice = await signedIn(browser, 'alice');
  const a = alice.page;
  await a.getByRole('radio', { name: /^write/ }).first().check();
  await a.getByLabel('Reason (required)').fill(IMG);
  await a.getByLabel('Ticket (required)').fill('OPS-1');
  await a.getByRole('button', { name: 'Request access' }).click();
  await a.waitForURL(/\/ui\/requests\/\d+$/);
  const id = Number(a.url().match(/(\d+)$/)[1]);
  await a.getByText(IMG, { exact: true }).first().waitFor();
  await noMarkup(a, 'the request page');

  const bob = await signedIn(browser, 'bob', { path: '/ui/approvals' });
  const card = bob.page.locator(`#inbox [data-request="${id}"]`);
  await card.getByText(IMG, { exact: true }).waitFor();
  await noMarkup(bob.page, 'the inbox');
  await card.getByLabel('Comment (optional)').fill(SCRIPT);
  await card.getByRole('button', { name: /^Deny/ }).click();
  await card.waitFor({ state: 'detached' });

  // alice learns why, as text, on her list and on the request's page
  await a.getByRole('link', { name: 'My access' }).click();
  await a.getByText(`Denied by bob: ${SCRIPT}`).waitFor();
  await noMarkup(a, 'my access');
  await a.getByRole('link', { name: `#${id}` }).click();
  await a.locator('#ended').filter({ hasText: SCRIPT }).waitFor();
  assert.equal(await a.locator('#ended').innerText(), `Denied by bob: ${SCRIPT}`);
  await noMarkup(a, 'the request page after the deny');

  // an auditor's view of the same events
  const erin = await signedIn(browser, 'erin', { path: '/ui/audit' });
  await erin.page.locator('#verify').waitFor();
  await erin.page.getByText(IMG).first().waitFor();
  await noMarkup(erin.page, 'the audit page');
  for (const p of [a, bob.page, erin.page]) noProblems(assert, p);
});

test('a cross-site form post with the session cookie changes nothing', { timeout: 600000 }, async () => {
  const alice = await signedIn(browser, 'alice');
  const before = (await api('alice', 'GET', '/v1/requests?mine=1')).body.requests.length;
  // "localhost" is another site than "127.0.0.1": the attacker's page
  // posts a JSON-looking body as text/plain (no preflight needed)
  const target = `${URL_}/v1/requests`;
  const evil = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    if (req.url === '/blank') {
      res.end('<!doctype html><title>blank</title>');
      return;
    }
    res.end(`<!doctype html><title>win a prize</title>
<form id="f" method="POST" action="${target}" enctype="text/plain">
<input type="hidden" name='{"resource":"orders-db","role":"read","duration":"4h","x":"' value='"}'>
</form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  const page = await alice.context.newPage();
  const answer = page.waitForResponse((r) => r.url() === target);
  await page.goto(`http://localhost:${evil.address().port}/`);
  const res = await answer;
  assert.ok([401, 403].includes(res.status()), `refused, got ${res.status()}`);
  const after = (await api('alice', 'GET', '/v1/requests?mine=1')).body.requests.length;
  assert.equal(after, before, 'no request was created');

  // the same with fetch from the other site, credentials included
  await page.goto(`http://localhost:${evil.address().port}/blank`);
  const status = await page.evaluate(async (u) => {
    try {
      const r = await fetch(u, { method: 'POST', credentials: 'include', mode: 'no-cors',
        headers: { 'Content-Type': 'text/plain' }, body: '{"resource":"orders-db","role":"read","duration":"4h"}' });
      return r.type;
    } catch (e) { return 'error'; }
  }, target);
  assert.ok(['opaque', 'error'].includes(status));
  assert.equal((await api('alice', 'GET', '/v1/requests?mine=1')).body.requests.length, before);
  evil.close();
  noProblems(assert, alice.page);
});
