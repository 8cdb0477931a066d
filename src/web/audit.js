// Audit (auditors, admins): the events, newest first, with filters; follow
// live; export as JSON lines; and the chain verification in words.
import { h, tableWrap, replace, announce } from './dom.js';
import { get, qs } from './api.js';
import { absTime } from './fmt.js';

const ACTIONS = ['request.created', 'request.approved', 'request.denied', 'request.canceled',
  'request.activated', 'request.expired', 'request.revoked', 'request.timed_out',
  'request.break_glass', 'request.reviewed', 'check.denied', 'session.started',
  'session.ended', 'session.query', 'auth.failed', 'config.loaded',
  'request.reminded', 'request.escalated', 'request.expiring'];
const WINDOW = 2000;

function detailText(d) {
  if (d === undefined || d === null) return '';
  return typeof d === 'string' ? d : JSON.stringify(d);
}

function row(ev) {
  return h('tr', { 'data-seq': ev.seq },
    h('td', {}, String(ev.seq)),
    h('td', {}, h('time', { datetime: ev.time, title: ev.time }, absTime(ev.time))),
    h('td', {}, h('code', {}, ev.action)),
    h('td', { class: 'user-text' }, ev.actor || ''),
    h('td', { class: 'user-text' }, ev.subject || ''),
    h('td', { class: 'user-text' }, [ev.resource, ev.role].filter(Boolean).join(' · ')),
    h('td', {}, ev.request_id ? h('a', { href: `/ui/requests/${ev.request_id}`, 'data-nav': true }, `#${ev.request_id}`) : ''),
    h('td', { class: 'detail mono user-text' }, detailText(ev.detail)));
}

function verifyText(v) {
  if (v.ok) {
    const head = v.head ? `${v.head.slice(0, 4)}…` : 'none';
    return h('div', { class: 'notice good', id: 'verify' },
      `Chain intact: ${Number(v.count).toLocaleString('en')} events, head ${head}`,
      v.head ? h('span', { class: 'sr-only' }, ` (full head hash ${v.head})`) : null);
  }
  return h('div', { class: 'notice bad', id: 'verify', role: 'alert' },
    `CHAIN BROKEN at event #${v.bad_seq ?? '?'}: ${v.reason || 'hashes do not match'}. ` +
    'Events from there on cannot be trusted; keep an export and investigate.');
}

export async function auditPage(view, ctx) {
  ctx.title('Audit');
  if (!(ctx.me.auditor || ctx.me.admin)) {
    replace(view, h('h1', {}, 'Audit'), h('div', { class: 'notice' }, 'Only admins and auditors may read the audit log.'));
    return;
  }
  const inputs = {
    subject: h('input', { type: 'text', id: 'f-subject', autocomplete: 'off' }),
    resource: h('input', { type: 'text', id: 'f-resource', autocomplete: 'off' }),
    action: h('select', { id: 'f-action' }, h('option', { value: '' }, 'any'), ACTIONS.map((a) => h('option', { value: a }, a))),
    from: h('input', { type: 'datetime-local', id: 'f-from' }),
    to: h('input', { type: 'datetime-local', id: 'f-to' }),
  };
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const verifyBox = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Verifying the chain…'));
  const tbody = h('tbody', {});
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const older = h('button', { type: 'button' }, 'Load older events');
  let events = [];
  let oldest = 0; // events with seq > oldest are loaded
  let newest = 0;

  const filters = () => ({ subject: inputs.subject.value.trim(), resource: inputs.resource.value.trim(), action: inputs.action.value });
  function inRange(ev) {
    const t = Date.parse(ev.time);
    const from = inputs.from.value ? new Date(inputs.from.value).getTime() : null;
    const to = inputs.to.value ? new Date(inputs.to.value).getTime() : null;
    return (from === null || t >= from) && (to === null || t <= to);
  }
  async function fetchRange(after, upto) {
    const out = [];
    let cursor = after;
    for (;;) {
      const page = await get('/v1/audit' + qs({ ...filters(), after: cursor, limit: 1000 }));
      for (const ev of page.events) if (upto === null || ev.seq <= upto) out.push(ev);
      if (!page.events.length || page.events.length < 1000 || (upto !== null && page.next_after >= upto)) {
        return { events: out, last: page.next_after };
      }
      cursor = page.next_after;
    }
  }
  function draw() {
    const shown = events.filter(inRange);
    replace(tbody, shown.map(row));
    status.textContent = `${shown.length} event${shown.length === 1 ? '' : 's'} shown` +
      (oldest > 0 ? ` (from event #${oldest + 1} on)` : '');
    older.hidden = oldest === 0;
  }
  async function load() {
    const v = await get('/v1/audit/verify');
    replace(verifyBox, verifyText(v));
    const head = v.head_seq ?? v.count ?? 0;
    oldest = Math.max(0, head - WINDOW);
    const got = await fetchRange(oldest, null);
    events = got.events.reverse();
    newest = Math.max(head, got.last || 0);
    draw();
  }
  older.addEventListener('click', async () => {
    const from = Math.max(0, oldest - WINDOW);
    const got = await fetchRange(from, oldest);
    events = events.concat(got.events.reverse());
    oldest = from;
    draw();
    announce(`${got.events.length} older events loaded`);
  });
  let following = null;
  async function catchUp() {
    if (!follow.checked || following) return;
    following = (async () => {
      try {
        const got = await fetchRange(newest, null);
        if (got.events.length) {
          events = got.events.reverse().concat(events);
          newest = Math.max(newest, got.last);
          draw();
        }
      } catch (e) { /* next event tries again */ }
      following = null;
    })();
  }
  const form = h('form', { class: 'panel', 'aria-label': 'Filter events' },
    h('div', { class: 'filters' },
      h('div', { class: 'field' }, h('label', { for: 'f-subject' }, 'Subject'), inputs.subject),
      h('div', { class: 'field' }, h('label', { for: 'f-resource' }, 'Resource'), inputs.resource),
      h('div', { class: 'field' }, h('label', { for: 'f-action' }, 'Action'), inputs.action),
      h('div', { class: 'field' }, h('label', { for: 'f-from' }, 'From'), inputs.from),
      h('div', { class: 'field' }, h('label', { for: 'f-to' }, 'To'), inputs.to)),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('label', { class: 'check', for: 'follow' }, follow, 'Follow live'),
      h('a', { class: 'button', href: '/v1/audit/export', download: 'jitgate-audit.jsonl' }, 'Export (JSON lines)')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await load();
    announce(status.textContent);
  });
  follow.addEventListener('change', catchUp);
  for (const k of ['from', 'to']) inputs[k].addEventListener('change', draw);

  replace(view, h('h1', {}, 'Audit'), verifyBox, form, status,
    tableWrap('Audit events', h('table', {},
      h('caption', { class: 'sr-only' }, 'Audit events, newest first'),
      h('thead', {}, h('tr', {}, ['#', 'Time', 'Action', 'Actor', 'Subject', 'Resource', 'Request', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    h('div', { class: 'actions' }, older));
  await load();
  ctx.onRequest(catchUp);
  ctx.onResync(catchUp);
}
