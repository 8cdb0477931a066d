// Refusals are explained with the API's own message.  The UI offers only
// what a person may do, so a refusal in the UI happens when the rules
// change under an open page: the operator tightens the policy (SIGHUP)
// after bob's and sam's pages were drawn.
//  - non-approver: bob (sre) had Approve on alice's write request; the
//    policy now takes only carol and dave.
//  - self-approval: sam (sre) had Approve on his own read request where the
//    policy allowed self-approval; it no longer does.
// Also: no Approve is offered to alice on her own request, and mallory
// (no policy) cannot open it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { launch, signedIn, api, until, noProblems, URL_, ENV } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

async function reloadConfig(edit) {
  const count = async () => (await api('erin', 'GET', '/v1/audit?action=config.loaded&limit=1000')).body.events.length;
  const before = await count();
  const text = readFileSync(ENV.config, 'utf8');
  const next = edit(text);
  assert.notEqual(next, text, 'the config edit changed something');
  writeFileSync(ENV.config, next);
  process.kill(ENV.pid, 'SIGHUP');
  await until(async () => (await count()) > before, 'the daemon to load the new config');
}

test('approvals refused under an open page show the API message; nothing else is offered', { timeout: 600000 }, async () => {
  const w = await api('alice', 'POST', '/v1/requests',
    { resource: 'prod-payments', role: 'write', duration: '30m', reason: 'deploy', ticket: 'OPS-9' });
  assert.equal(w.status, 201);
  const s = await api('sam', 'POST', '/v1/requests',
    { resource: 'prod-payments', role: 'read', duration: '30m', reason: 'look' });
  assert.equal(s.status, 201);
  assert.equal(s.body.state, 'pending');

  // alice sees her request without any way to approve it
  const alice = await signedIn(browser, 'alice', { path: `/ui/requests/${w.body.id}` });
  await alice.page.getByRole('heading', { name: 'What you can do' }).waitFor();
  assert.equal(await alice.page.getByRole('button', { name: 'Approve' }).count(), 0);
  assert.equal(await alice.page.getByRole('button', { name: 'Cancel request' }).count(), 1);

  const bob = await signedIn(browser, 'bob', { path: `/ui/requests/${w.body.id}` });
  const sam = await signedIn(browser, 'sam', { path: `/ui/requests/${s.body.id}` });
  await bob.page.getByRole('button', { name: 'Approve' }).waitFor();
  await sam.page.getByRole('button', { name: 'Approve' }).waitFor();

  await reloadConfig((t) => t
    .replace('approvers: [group:sre, user:carol]', 'approvers: [user:carol, user:dave]')
    .replace(/(approvers: \[group:sre\]\n\s+)allow_self_approval: true/, '$1allow_self_approval: false'));

  // what the API says to the same call, for comparison
  const apiBob = await api('bob', 'POST', `/v1/requests/${w.body.id}/approve`, {});
  const apiSam = await api('sam', 'POST', `/v1/requests/${s.body.id}/approve`, {});
  assert.equal(apiBob.status, 403);
  assert.equal(apiSam.status, 403);

  await bob.page.getByRole('button', { name: 'Approve' }).click();
  const bobErr = bob.page.locator('#action-error');
  await bobErr.filter({ hasText: /./ }).waitFor();
  assert.equal(await bobErr.innerText(), apiBob.body.error.message);
  assert.equal(await bobErr.getAttribute('role'), 'alert');

  await sam.page.getByRole('button', { name: 'Approve' }).click();
  const samErr = sam.page.locator('#action-error');
  await samErr.filter({ hasText: /./ }).waitFor();
  assert.equal(await samErr.innerText(), apiSam.body.error.message);

  // nothing changed
  for (const [who, id] of [['alice', w.body.id], ['sam', s.body.id]]) {
    const r = await api(who, 'GET', `/v1/requests/${id}`);
    assert.equal(r.body.state, 'pending');
    assert.deepEqual(r.body.approvals, []);
  }
  for (const p of [alice.page, bob.page, sam.page]) noProblems(assert, p);
});

test('mallory, whom no policy names, is told she may not see the request', { timeout: 600000 }, async () => {
  const w = await api('alice', 'POST', '/v1/requests',
    { resource: 'orders-db', role: 'read', duration: '30m' });
  const mallory = await signedIn(browser, 'mallory');
  await mallory.page.getByText('There is nothing you may request.').waitFor();
  await mallory.page.goto(`${URL_}/ui/requests/${w.body.id}`);
  await mallory.page.getByRole('alert').filter({ hasText: /may not see/ }).waitFor();
  assert.equal(await mallory.page.getByRole('button', { name: /Approve|Revoke|Cancel/ }).count(), 0);
  noProblems(assert, mallory.page);
});
