// The whole workflow, each person in a browser of their own, alice, bob
// and carol signed in at the IdP, dave with his static token: alice asks
// for write on orders-db; bob and carol, with their inboxes already open,
// see it arrive without reloading and approve; alice's page turns active
// with a ticking countdown without a reload; she connects with psql
// through the gateway; dave (admin) revokes from Active grants with a
// reason; her page says so without a reload, and her psql session is cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  launch, person, signedIn, signInIdp, live, api, until, markNoReload, assertNoReload, noProblems, ENV,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

function psqlSleeping(who, dbname) {
  const p = spawn('psql', ['-X', '-At',
    `host=127.0.0.1 port=${ENV.gateway_port} user=${who} dbname=${dbname} sslmode=disable`,
    '-c', 'select pg_sleep(60)'], {
    env: { ...process.env, PGPASSWORD: ENV.idp_tokens[who] || ENV.tokens[who], PGSSLMODE: 'disable' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.stderrText = '';
  p.stderr.on('data', (d) => { p.stderrText += d; });
  p.exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  return p;
}

test('request, live approvals by two approvers, active with countdown, revoke cuts psql', { timeout: 600000 }, async () => {
  const bob = await person(browser);
  const carol = await person(browser);
  await signInIdp(bob.page, 'bob', '/ui/approvals');
  await signInIdp(carol.page, 'carol', '/ui/approvals');
  for (const p of [bob.page, carol.page]) {
    await live(p);
    await p.getByText('Nothing to approve').waitFor();
    await markNoReload(p);
  }

  // alice signs in at the IdP, and picks from the catalog (she never
  // types a resource name)
  const alice = await person(browser);
  const a = alice.page;
  await signInIdp(a, 'alice');
  await live(a);
  await a.getByLabel('Find a resource or role').fill('orders write');
  assert.equal(await a.locator('.option:not([hidden])').count(), 1, 'the search narrows the list');
  await a.getByRole('radio', { name: /^write/ }).check();
  await a.getByText('needs 2 approvals from group sre, carol').first().waitFor();
  await a.getByRole('button', { name: '15m' }).click();
  assert.equal(await a.getByLabel('Duration').inputValue(), '15m');
  await a.getByLabel('Duration').fill('30m');
  await a.getByLabel('Reason (required)').fill('fix stuck orders');
  assert.equal(await a.getByLabel('Ticket (required)').getAttribute('placeholder'), 'OPS-123');
  await a.getByLabel('Ticket (required)').fill('OPS-7');
  await a.getByRole('button', { name: 'Request access' }).click();
  await a.waitForURL(/\/ui\/requests\/\d+$/);
  const id = Number(a.url().match(/(\d+)$/)[1]);
  await a.locator('#state-line [data-state="pending"]').waitFor();
  await markNoReload(a);

  // it arrives in both inboxes by itself
  const bobCard = bob.page.locator(`#inbox [data-request="${id}"]`);
  const carolCard = carol.page.locator(`#inbox [data-request="${id}"]`);
  await bobCard.waitFor();
  await carolCard.waitFor();
  assert.match(await bobCard.innerText(), /fix stuck orders/);
  assert.match(await bobCard.innerText(), /OPS-7/);
  await bob.page.locator('#approvals-count', { hasText: '1' }).waitFor();

  await bobCard.getByLabel('Comment (optional)').fill('looks right');
  await bobCard.getByRole('button', { name: /^Approve/ }).click();
  await bobCard.waitFor({ state: 'detached' });
  await a.getByText('1 of 2 approvals').waitFor();
  // carol's card shows bob's approval, live
  await carolCard.getByText('1 of 2 (bob)').waitFor();

  await carolCard.getByRole('button', { name: /^Approve/ }).click();
  await a.locator('#state-line [data-state="active"]').waitFor();
  const countdown = a.locator('.countdown');
  const first = await countdown.innerText();
  assert.match(first, /^(29|30)m \d\ds left$/);
  await until(async () => (await countdown.innerText()) !== first, 'the countdown to tick');
  await a.getByText('psql "host=').waitFor();
  assert.equal(await a.locator('code.conn').innerText(),
    `psql "host=127.0.0.1 port=${ENV.gateway_port} dbname=orders-db@write user=alice"`);
  for (const p of [a, bob.page, carol.page]) await assertNoReload(assert, p);

  // through the gateway, with her token from the IdP as the password
  const psql = psqlSleeping('alice', 'orders-db@write');
  await until(async () => {
    const r = await api('erin', 'GET', '/v1/audit?action=session.started&limit=1000');
    return r.body.events.some((e) => e.request_id === id);
  }, 'the gateway session to start');

  // dave revokes from Active grants
  const dave = await signedIn(browser, 'dave', { path: '/ui/grants' });
  const row = dave.page.locator(`tr[data-request="${id}"]`);
  await row.getByLabel(`Reason to revoke #${id}`).fill('incident over');
  await row.getByRole('button', { name: /^Revoke/ }).click();
  await row.waitFor({ state: 'detached' });

  await a.locator('#state-line [data-state="revoked"]').waitFor();
  assert.equal(await a.locator('#ended').innerText(), 'Revoked by dave: incident over');
  assert.equal(await a.locator('.countdown').count(), 0);
  await assertNoReload(assert, a);
  const code = await psql.exited;
  assert.notEqual(code, 0);
  assert.match(psql.stderrText, new RegExp(`FATAL: +jitgate: your grant ${id} for orders-db as write was revoked`));

  // what the clicks did is audited as the same API calls, by the people
  const ev = (await api('erin', 'GET', '/v1/audit?resource=orders-db&limit=1000')).body.events
    .filter((e) => e.request_id === id).map((e) => `${e.action}:${e.actor}`);
  for (const want of ['request.created:alice', 'request.approved:bob', 'request.approved:carol',
    'request.activated:carol', 'request.revoked:dave']) {
    assert.ok(ev.includes(want), `${want} in ${ev.join(', ')}`);
  }
  for (const p of [a, bob.page, carol.page, dave.page]) noProblems(assert, p);
});
