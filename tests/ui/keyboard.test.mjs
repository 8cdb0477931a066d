// Keyboard only: sign in, find a role, pick it, choose a duration, give a
// reason and ticket, submit, land on the request page — with Tab, arrows,
// Space, Enter and typing; never the mouse.  Focus is visible at every
// stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signedIn, noProblems, api, settled, URL_, ENV, PHONE } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    const label = el.labels && el.labels[0] ? el.labels[0].innerText : (el.getAttribute('aria-label') || el.innerText || '');
    return {
      tag: el.tagName.toLowerCase(), type: el.type || '', id: el.id, label: label.trim(),
      visible: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
    };
  });
}

// Tabs until the focused element satisfies pred (at most 40 stops),
// checking that every stop shows its focus.
async function tabTo(page, pred, what) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    assert.ok(f.visible, `focus is visible on ${f.tag}#${f.id} "${f.label}"`);
    if (pred(f)) return f;
  }
  throw new Error('never reached ' + what);
}

test('the request form, keyboard only', { timeout: 600000 }, async () => {
  const { page } = await person(browser);
  await page.goto(URL_ + '/');
  await tabTo(page, (f) => f.id === 'token', 'the token field');
  await page.keyboard.type(ENV.tokens.alice);
  await page.keyboard.press('Enter');
  await page.locator('#who-name', { hasText: 'alice' }).waitFor();
  await page.getByRole('heading', { name: 'Request access' }).waitFor();

  await tabTo(page, (f) => f.id === 'catalog-search', 'the search field');
  await page.keyboard.type('write');
  // into the list: the first visible role, then arrows move between roles
  await tabTo(page, (f) => f.type === 'radio', 'the first role');
  await page.keyboard.press('Space');
  let f = await focused(page);
  assert.match(f.label, /^write/);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowUp');
  f = await focused(page);
  assert.match(f.label, /^write/);
  assert.equal(await page.evaluate(() => document.activeElement.checked), true, 'arrows select the role');
  const chosen = await page.evaluate(() => document.activeElement.closest('fieldset').querySelector('legend').firstChild.textContent);

  // quick duration with Space, then the other fields
  await tabTo(page, (f) => f.tag === 'button' && f.label === '15m', 'the 15m quick pick');
  await page.keyboard.press('Space');
  assert.equal(await page.locator('#duration').inputValue(), '15m');
  await tabTo(page, (f) => f.id === 'reason', 'the reason');
  await page.keyboard.type('keyboard only');
  await tabTo(page, (f) => f.id === 'ticket', 'the ticket');
  await page.keyboard.type('OPS-42');
  await tabTo(page, (f) => f.tag === 'button' && f.label === 'Request access', 'submit');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/requests\/\d+$/);
  await page.getByRole('heading', { name: `write on ${chosen}` }).waitFor();
  // focus moved to the new page's heading, for screen readers: once the
  // page has finished loading (the heading shows before its last fetch
  // answers, later on a slower store), so wait for that state
  await settled(page);
  f = await focused(page);
  assert.equal(f.tag, 'h1');
  // a live update (bob approves elsewhere) redraws the page: the focus
  // stays on the heading instead of falling back to the body
  const id = page.url().match(/\/ui\/requests\/(\d+)$/)[1];
  const ap = await api('bob', 'POST', `/v1/requests/${id}/approve`, { comment: 'from elsewhere' });
  assert.equal(ap.status, 200, JSON.stringify(ap.body));
  await page.getByText('from elsewhere').first().waitFor();
  f = await focused(page);
  assert.equal(f.tag, 'h1', 'focus kept on the heading across a live update');
  noProblems(assert, page);
});

test('an API error lands beside its field and takes the focus', { timeout: 600000 }, async () => {
  const { page } = await person(browser);
  await page.goto(URL_ + '/');
  await page.getByLabel('Access token').fill(ENV.tokens.alice);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Request access' }).waitFor();
  await page.getByRole('radio', { name: /^write/ }).first().check();
  await page.getByLabel('Duration').fill('3h');
  await page.getByLabel('Reason (required)').fill('too long');
  await page.getByLabel('Ticket (required)').fill('OPS-1');
  await page.keyboard.press('Enter');
  const err = page.locator('#duration-error');
  await err.filter({ hasText: /^duration: / }).waitFor();
  assert.equal(await page.locator('#duration').getAttribute('aria-invalid'), 'true');
  assert.equal((await focused(page)).id, 'duration');
  // and a ticket that does not match the pattern
  await page.getByLabel('Duration').fill('30m');
  await page.getByLabel('Ticket (required)').fill('not a ticket');
  await page.keyboard.press('Enter');
  await page.locator('#ticket-error').filter({ hasText: /^ticket: / }).waitFor();
  assert.equal(await page.locator('#duration-error').innerText(), '');
  assert.equal((await focused(page)).id, 'ticket');
  noProblems(assert, page);
});

// The audit table is wider than a phone and scrolls sideways inside its
// box.  The box is a named region in the tab order, so the keyboard can
// scroll it even when no row has a link to stop on (axe's
// scrollable-region-focusable; the rows may not have loaded yet).
test('a table wider than the screen scrolls from the keyboard', { timeout: 600000 }, async () => {
  const { page } = await signedIn(browser, 'erin', { viewport: PHONE, path: '/ui/audit' });
  await page.getByRole('heading', { name: 'Audit' }).first().waitFor();
  const region = page.getByRole('region', { name: 'Audit events' });
  await region.waitFor();
  await settled(page); // with its rows
  const wide = await region.evaluate((el) => el.scrollWidth - el.clientWidth);
  assert.ok(wide > 0, 'the audit table is wider than its box on a phone');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await tabTo(page, (f) => f.label === 'Audit events', 'the audit table');
  assert.equal(await region.evaluate((el) => el.scrollLeft), 0);
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.querySelector('[aria-label="Audit events"]').scrollLeft > 0,
    null, { timeout: 30000 });
  noProblems(assert, page);
});
