// A grant's life after it is granted, in real chromium against the real
// daemon (tests/e2e/test_ui_flow.py):
//  - Extend: alice extends her active write grant from its page; the
//    extension is a new request naming the one it extends, on My access
//    and on bob's Approvals card; approved, it is active beyond the first.
//  - Break-glass review: bob reviews erik's break-glass grant from the
//    review queue, sam from the request page; each audited exactly as
//    carol's review of a twin grant through the API.
//  - The psql line of an active postgres grant: the gateway's address from
//    the catalog, quoted for libpq and the shell whatever the names hold.
// axe-core finds nothing serious on the views involved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { launch, signedIn, api, axe, until, noProblems, markNoReload, assertNoReload, ENV } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

async function mk(who, body) {
  const r = await api(who, 'POST', '/v1/requests', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function ok(who, verb, id, body = {}) {
  const r = await api(who, 'POST', `/v1/requests/${id}/${verb}`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function auditOf(id) {
  const r = await api('erin', 'GET', '/v1/audit?limit=1000&after=0');
  assert.equal(r.status, 200);
  return r.body.events.filter((e) => String(e.request_id) === String(id));
}

async function noAxe(page, what) {
  assert.deepEqual(await axe(page), [], `axe-core on ${what}`);
}

test('extend: a new request naming the grant, on My access and in the inbox, approved and active beyond it', { timeout: 600000 }, async () => {
  const first = await mk('alice', { resource: 'prod-payments', role: 'write', duration: '30m', reason: 'deploy 1.2', ticket: 'OPS-11' });
  await ok('bob', 'approve', first.id);
  const active = await ok('carol', 'approve', first.id);
  assert.equal(active.state, 'active');

  const alice = await signedIn(browser, 'alice', { path: `/ui/requests/${first.id}` });
  const a = alice.page;
  await a.getByRole('link', { name: 'Extend…' }).click();
  await a.getByRole('heading', { name: `Extend request #${first.id}` }).waitFor();
  await a.getByText(`This extends request #${first.id}`).waitFor();
  // the form comes with the grant's resource and role chosen
  assert.equal(await a.locator('input[name="entry"]:checked').count(), 1);
  await a.getByLabel('Duration').fill('45m');
  await a.getByLabel('Reason (required)').fill('the deploy runs long');
  await a.getByLabel('Ticket (required)').fill('OPS-11');
  await noAxe(a, 'the extend form');
  await a.getByRole('button', { name: 'Request extension' }).click();

  // straight to the extension's own page, which names the one it extends
  await a.waitForURL(/\/ui\/requests\/\d+$/);
  const extId = Number(a.url().split('/').pop());
  assert.notEqual(extId, first.id);
  await a.locator('#state-line [data-state="pending"]').waitFor();
  await a.getByRole('link', { name: `request #${first.id}` }).waitFor();
  await noAxe(a, 'the extension request page');
  const ext = (await api('alice', 'GET', `/v1/requests/${extId}`)).body;
  assert.equal(ext.extends, first.id);
  assert.equal(ext.state, 'pending');

  // My access: the grant still active, the extension among her requests
  await a.getByRole('link', { name: 'My access' }).click();
  await a.getByRole('heading', { name: 'My access' }).waitFor();
  const row = a.locator(`tr[data-request="${extId}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), new RegExp(`write on prod-payments · extends #${first.id}`));
  await row.getByRole('link', { name: `#${first.id}`, exact: true }).waitFor();
  assert.equal(await a.locator(`#active-grants [data-request="${first.id}"]`).count(), 1);
  await noAxe(a, 'My access with an extension');
  await markNoReload(a);

  // bob's inbox: the card says what it extends; he approves there
  const bob = await signedIn(browser, 'bob', { path: '/ui/approvals' });
  const card = bob.page.locator(`#inbox [data-request="${extId}"]`);
  await card.waitFor();
  await card.getByRole('link', { name: `request #${first.id}` }).waitFor();
  await noAxe(bob.page, 'the inbox with an extension');
  await card.getByRole('button', { name: 'Approve alice: write on prod-payments' }).click();
  await card.waitFor({ state: 'detached' });
  // carol's approval (the policy wants two) makes it active
  await ok('carol', 'approve', extId, { comment: 'fine' });

  // alice's page shows two active grants without a reload
  const extCard = a.locator(`#active-grants [data-request="${extId}"]`);
  await extCard.waitFor();
  await extCard.getByText('Extends').waitFor();
  await assertNoReload(assert, a);
  const [g1, g2] = await Promise.all([first.id, extId].map(async (id) => (await api('alice', 'GET', `/v1/requests/${id}`)).body));
  assert.equal(g1.state, 'active');
  assert.equal(g2.state, 'active');
  assert.ok(Date.parse(g2.expires_at) > Date.parse(g1.expires_at), `${g2.expires_at} after ${g1.expires_at}`);
  await noAxe(a, 'My access with two grants');

  // audited as the API calls: created by alice naming the grant, approved
  // by bob and carol, activated
  const ev = await auditOf(extId);
  const created = ev.find((e) => e.action === 'request.created');
  assert.equal(created.actor, 'alice');
  assert.equal(created.detail.extends, first.id);
  const seen = ev.map((e) => `${e.action}:${e.actor}`);
  for (const want of ['request.approved:bob', 'request.approved:carol', 'request.activated:carol']) {
    assert.ok(seen.includes(want), `${want} in ${seen.join(', ')}`);
  }
  noProblems(assert, a);
  noProblems(assert, bob.page);
});

// An audit event as it would be for any request: without what differs
// between two events of the same kind (position, time, chain, which
// request).
function shape(e) {
  const { seq, time, prev, hash, request_id: rid, ...rest } = e;
  return rest;
}

test('break-glass review from the queue and from the request page, audited as the API call', { timeout: 600000 }, async () => {
  const reason = 'billing is down, customers cannot pay';
  const bg = {};
  for (const k of ['queue', 'page', 'api']) {
    bg[k] = await mk('erik', { resource: 'billing-api', role: 'admin', duration: '20m', reason, break_glass: true });
    assert.equal(bg[k].state, 'active');
    assert.equal(bg[k].review_required, true);
  }
  // the twin reviewed through the API, for comparison
  await ok('carol', 'review', bg.api.id, { comment: 'looked at the logs' });

  const bob = await signedIn(browser, 'bob', { path: '/ui/approvals' });
  const b = bob.page;
  const queue = b.locator('#reviews');
  const card = queue.locator(`[data-request="${bg.queue.id}"]`);
  await card.waitFor();
  assert.equal(await queue.locator(`[data-request="${bg.api.id}"]`).count(), 0, 'reviewed already');
  assert.match(await card.innerText(), /review required/i);
  await noAxe(b, 'the break-glass review queue');
  await card.getByLabel('Comment (optional)').fill('looked at the logs');
  await card.getByRole('button', { name: 'Mark reviewed: erik: admin on billing-api' }).click();
  await card.waitFor({ state: 'detached' });
  const r1 = (await api('erik', 'GET', `/v1/requests/${bg.queue.id}`)).body;
  assert.equal(r1.review_required, false);
  assert.equal(r1.reviewed_by, 'bob');
  assert.equal(r1.state, 'active');

  // sam (sre) reviews the other one from its own page
  const sam = await signedIn(browser, 'sam', { path: `/ui/requests/${bg.page.id}` });
  const s = sam.page;
  await s.getByRole('button', { name: 'Mark break-glass reviewed' }).waitFor();
  await noAxe(s, 'a break-glass request page');
  await s.getByRole('button', { name: 'Mark break-glass reviewed' }).click();
  await s.getByText('Reviewed by sam.').waitFor();
  assert.equal(await s.getByRole('button', { name: 'Mark break-glass reviewed' }).count(), 0);
  // and bob's queue, still open, has nothing left of the three
  await until(async () => (await queue.locator('[data-request]').count()) === 0, 'the queue to empty');
  await b.getByText('No break-glass access waits for a review.').waitFor();
  await noAxe(b, 'the empty review queue');

  // each click is audited exactly as the API call: same action, fields
  // and detail; only the actor (who clicked) and the comment given differ
  const reviewed = async (id) => (await auditOf(id)).filter((e) => e.action === 'request.reviewed');
  const [viaQueue, viaPage, viaApi] = await Promise.all([bg.queue.id, bg.page.id, bg.api.id].map(reviewed));
  assert.equal(viaQueue.length, 1);
  assert.equal(viaPage.length, 1);
  assert.equal(viaApi.length, 1);
  assert.deepEqual({ ...shape(viaQueue[0]), actor: 'carol' }, shape(viaApi[0]));
  assert.deepEqual(shape(viaPage[0]), { ...shape(viaApi[0]), actor: 'sam', detail: { ...viaApi[0].detail, comment: null } });
  noProblems(assert, b);
  noProblems(assert, s);
});

// How a shell then libpq read a line: the words bash makes of it (with
// psql replaced by a function printing them), each split at the spaces
// libpq splits at outside quotes.
function shellWords(line) {
  const script = `words() { printf '%s\\0' "$@"; }; ${line.replace(/^psql /, 'words ')}`;
  const p = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  return p.stdout.split('\0').slice(0, -1);
}

function conninfo(text) {
  const out = {};
  const re = /\s*([a-z]+)=(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m;
  while ((m = re.exec(text)) !== null && m[0] !== '') {
    out[m[1]] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return out;
}

test('the psql line names the gateway and quotes what needs it', { timeout: 600000 }, async () => {
  const r = await mk('alice', { resource: 'orders-db', role: 'read', duration: '30m' });
  assert.equal(r.state, 'active');
  const cat = (await api('alice', 'GET', '/v1/catalog')).body.entries;
  assert.equal(cat.find((e) => e.resource === 'orders-db').gateway, `127.0.0.1:${ENV.gateway_port}`);
  assert.equal(cat.find((e) => e.resource === 'billing-api').gateway, undefined);

  const alice = await signedIn(browser, 'alice', { path: `/ui/requests/${r.id}` });
  const a = alice.page;
  const line = `psql "host=127.0.0.1 port=${ENV.gateway_port} dbname=orders-db@read user=alice"`;
  await a.locator('code.conn').filter({ hasText: line }).waitFor();
  assert.equal(await a.locator('code.conn').innerText(), line);
  assert.deepEqual(shellWords(line), [`host=127.0.0.1 port=${ENV.gateway_port} dbname=orders-db@read user=alice`]);
  await noAxe(a, 'an active postgres grant');

  // the same function with names a shell or libpq would misread
  rmSync('/tmp/jg-pwned', { force: true });
  const cases = [
    ['[::1]:6432', 'db', 'read', 'alice', { host: '::1', port: '6432', dbname: 'db@read', user: 'alice' }],
    ['gw.example.com:5433', 'db', 'rw', "o'brien smith", { host: 'gw.example.com', port: '5433', dbname: 'db@rw', user: "o'brien smith" }],
    ['h:1', 'db', 'r', 'a$(touch /tmp/jg-pwned)`id`"b\\c!d', { host: 'h', port: '1', dbname: 'db@r', user: 'a$(touch /tmp/jg-pwned)`id`"b\\c!d' }],
    ['h:1', 'db', 'r', "x' user=admin", { host: 'h', port: '1', dbname: 'db@r', user: "x' user=admin" }],
    [undefined, 'db', 'r', 'alice', { host: '127.0.0.1', dbname: 'db@r', user: 'alice' }],
  ];
  for (const [gw, res, role, user, want] of cases) {
    const got = await a.evaluate(async ([g, rs, rl, u]) => (await import('/ui/fmt.js')).psqlLine(g, rs, rl, u, location.hostname), [gw, res, role, user]);
    assert.match(got, /^psql ["']/);
    const words = shellWords(got);
    assert.equal(words.length, 1, got);
    assert.deepEqual(conninfo(words[0]), want, got);
  }
  assert.equal(existsSync('/tmp/jg-pwned'), false, 'the shell ran nothing of a name');
  noProblems(assert, a);
});
