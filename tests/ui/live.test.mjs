// The live stream drops and comes back: the page says it is reconnecting,
// resumes with the Last-Event-ID of the last event it saw, and catches up
// with what happened meanwhile — without a reload.  The drop is real: the
// page talks to the daemon through a TCP relay that the test cuts (and
// refuses new connections until it is restored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signedIn, live, api, markNoReload, assertNoReload, noProblems, relay, URL_ } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('a dropped stream shows "reconnecting", resumes with Last-Event-ID and catches up', { timeout: 600000 }, async () => {
  const r = await api('alice', 'POST', '/v1/requests',
    { resource: 'prod-payments', role: 'write', duration: '30m', reason: 'rotate keys', ticket: 'OPS-5' });
  assert.equal(r.status, 201);
  const id = r.body.id;
  // signed in at the daemon itself (the cookie is the host's, whatever
  // the port), then the request's page through the relay
  const alice = await signedIn(browser, 'alice');
  const a = alice.page;
  const net1 = await relay(URL_);
  try {
    await a.goto(`${net1.url}/ui/requests/${id}`);
    await live(a);
    await a.locator('#state-line [data-state="pending"]').waitFor();
    await markNoReload(a);
    const streams = [];
    a.on('request', (req) => {
      if (new URL(req.url()).pathname === '/v1/events') streams.push(req.headers()['last-event-id'] || null);
    });
    // an event, so that the page has an id to resume from
    assert.equal((await api('bob', 'POST', `/v1/requests/${id}/approve`, {})).status, 200);
    await a.getByText('1 of 2 approvals').waitFor();

    net1.cut();
    await a.locator('#live.down', { hasText: 'reconnecting' }).waitFor();
    assert.equal(await a.locator('#live').getAttribute('role'), 'status');
    // meanwhile carol approves: the request becomes active
    assert.equal((await api('carol', 'POST', `/v1/requests/${id}/approve`, {})).status, 200);
    net1.restore();

    await a.locator('#state-line [data-state="active"]').waitFor();
    await a.locator('#live:not(.down)', { hasText: 'Live' }).waitFor();
    const resumed = streams.filter((h) => h !== null);
    assert.ok(resumed.length >= 1, `a reconnect sent Last-Event-ID (streams: ${JSON.stringify(streams)})`);
    assert.match(resumed[0], /^[1-9][0-9]*$/);
    await assertNoReload(assert, a);
    noProblems(assert, a);
  } finally {
    // an open listener would keep node (and the test file) running
    net1.close();
  }
});
