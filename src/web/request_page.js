// One request, linkable (/ui/requests/ID): state, details, approvals and
// who else may approve, its timeline, and the actions this person may take
// now.  Follows the live stream: an approval elsewhere flips it without a
// reload.
import { h, replace, announce } from './dom.js';
import { get, post, qs, listRequests } from './api.js';
import { badge, countdownEl, durationText, principalText, psqlLine, stateWord, timeEl } from './fmt.js';

const ENDED_VERB = {
  denied: 'Denied', revoked: 'Revoked', expired: 'Expired', canceled: 'Canceled', timed_out: 'Timed out',
};

export function endedText(r) {
  if (!ENDED_VERB[r.state]) return null;
  let t = ENDED_VERB[r.state];
  if (r.ended_by && r.ended_by !== 'jitgate') t += ` by ${r.ended_by}`;
  if (r.end_comment) t += `: ${r.end_comment}`;
  return t;
}

// Everything that describes the request, as definition-list rows.
export function factRows(r) {
  const rows = [
    ['Requested by', r.requester],
    ['Access', `${r.role} on ${r.resource}`],
    ['Duration', durationText(r.duration_s)],
    ['Reason', r.reason ? h('span', { class: 'user-text' }, r.reason) : h('span', { class: 'muted' }, 'none given')],
    ['Ticket', r.ticket ? h('span', { class: 'user-text' }, r.ticket) : h('span', { class: 'muted' }, 'none')],
    ['Policy', r.policy],
    ['Asked', timeEl(r.created_at)],
  ];
  if (r.state === 'pending' && r.pending_until) rows.push(['Waits until', timeEl(r.pending_until)]);
  if (r.activated_at) rows.push(['Active since', timeEl(r.activated_at)]);
  if (r.expires_at) rows.push([r.state === 'active' ? 'Ends' : 'Was to end', timeEl(r.expires_at)]);
  if (r.ended_at) rows.push(['Ended', timeEl(r.ended_at)]);
  if (r.extends) rows.push(['Extends', h('a', { href: `/ui/requests/${r.extends}`, 'data-nav': true }, `request #${r.extends}`)]);
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function approvalsBlock(r, approvers) {
  const done = r.approvals || [];
  const items = done.map((a) => h('li', {},
    h('strong', {}, a.by), ' approved ', timeEl(a.at),
    a.comment ? [': ', h('span', { class: 'user-text' }, a.comment)] : null));
  const need = Math.max(0, (r.approvals_required || 0) - done.length);
  const out = [h('p', {}, r.approvals_required
    ? `${done.length} of ${r.approvals_required} approval${r.approvals_required === 1 ? '' : 's'}`
    : (r.break_glass ? 'Break-glass: active without approval, reviewed afterwards.' : 'Granted at once: this policy needs no approval.'))];
  if (items.length) out.push(h('ul', {}, items));
  if (r.state === 'pending' && need > 0) {
    const by = new Set(done.map((a) => 'user:' + a.by));
    const others = (approvers || []).filter((p) => !by.has(p) && p !== 'user:' + r.requester);
    out.push(h('p', { class: 'muted' }, others.length
      ? `Needs ${need} more from: ${others.map(principalText).join(', ')}.`
      : `Needs ${need} more approval${need === 1 ? '' : 's'}.`));
  }
  if (r.reviewed_by) out.push(h('p', {}, `Reviewed by ${r.reviewed_by}.`));
  return out;
}

const ACTION_WORDS = {
  'request.created': 'requested', 'request.approved': 'approved', 'request.denied': 'denied',
  'request.canceled': 'canceled', 'request.activated': 'became active', 'request.expired': 'expired',
  'request.revoked': 'revoked', 'request.timed_out': 'timed out', 'request.break_glass': 'broke glass',
  'request.reviewed': 'reviewed', 'session.started': 'connected through the gateway',
  'session.ended': 'disconnected', 'session.query': 'ran a statement', 'check.denied': 'was denied a check',
  'request.reminded': 'reminded the approvers', 'request.escalated': 'escalated the request',
  'request.expiring': 'warned that the grant ends soon',
};

function detailText(ev) {
  const d = ev.detail;
  if (!d || typeof d !== 'object') return null;
  const t = d.comment || d.reason || d.statement || d.query || null;
  return typeof t === 'string' ? t : null;
}

function timelineFromAudit(events) {
  return events.map((ev) => h('li', {},
    timeEl(ev.time), ' · ', h('strong', {}, ev.actor), ' ', ACTION_WORDS[ev.action] || ev.action,
    detailText(ev) ? [': ', h('span', { class: 'user-text' }, detailText(ev))] : null,
    h('span', { class: 'muted' }, ` (#${ev.seq})`)));
}

function timelineFromRequest(r) {
  const rows = [[r.created_at, `${r.requester} ${r.break_glass ? 'broke glass' : 'requested'}`, r.reason]];
  for (const a of r.approvals || []) rows.push([a.at, `${a.by} approved`, a.comment]);
  if (r.activated_at) rows.push([r.activated_at, 'became active', null]);
  if (r.ended_at) rows.push([r.ended_at, endedText(r), null]);
  rows.sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]));
  return rows.map(([t, what, note]) => h('li', {}, timeEl(t), ' · ', what,
    note ? [': ', h('span', { class: 'user-text' }, note)] : null));
}

// Audit events of one request (the audit log has no request filter: the
// resource narrows it, bounded to 20 pages).
async function auditOf(r, after) {
  const out = [];
  let cursor = after || 0;
  for (let i = 0; i < 20; i++) {
    const page = await get('/v1/audit' + qs({ after: cursor, limit: 1000, resource: r.resource }));
    out.push(...page.events.filter((e) => e.request_id === r.id));
    if (!page.events.length) break;
    cursor = page.next_after;
  }
  return { events: out, last: cursor };
}

export async function requestPage(view, ctx, idText) {
  const id = Number(idText);
  ctx.title(`Request #${id}`);
  const me = ctx.me;
  let r;
  try {
    r = await get(`/v1/requests/${id}`);
  } catch (e) {
    replace(view, h('h1', {}, `Request #${id}`), h('div', { class: 'notice bad', role: 'alert' },
      e.status === 404 ? 'There is no such request, or you may not see it.' : e.message));
    return;
  }
  const [entries, approvable] = await Promise.all([
    ctx.catalog().catch(() => []),
    listRequests({ approvable: 1 }, 500).catch(() => []),
  ]);
  let canDecide = approvable.some((x) => x.id === id);
  const entry = entries.find((e) => e.resource === r.resource && e.role === r.role && e.policy === r.policy);
  // where the gateway is: the same for every postgres entry of the resource
  const gateway = (entries.find((e) => e.resource === r.resource && e.gateway) || {}).gateway;
  const auditor = me.auditor || me.admin;
  let auditEvents = [];
  let auditLast = 0;

  const status = h('section', { 'aria-labelledby': 'state-h' });
  const facts = h('section', { class: 'panel', 'aria-label': 'Details' });
  const approvals = h('section', { class: 'panel', 'aria-labelledby': 'appr-h' });
  const actions = h('section', { class: 'panel', 'aria-labelledby': 'act-h' });
  const timeline = h('section', { class: 'panel', 'aria-labelledby': 'tl-h' });
  const feedback = h('div', { role: 'alert', class: 'error', id: 'action-error' });
  const comment = h('textarea', { id: 'comment', maxlength: '1024', rows: '2' });
  const revokeReason = h('input', { type: 'text', id: 'revoke-reason', maxlength: '1024', autocomplete: 'off' });
  let actionsKey = null;

  async function act(verb, body, done) {
    feedback.textContent = '';
    for (const b of actions.querySelectorAll('button')) b.disabled = true;
    try {
      const nr = await post(`/v1/requests/${id}/${verb}`, body);
      comment.value = '';
      revokeReason.value = '';
      if (verb === 'approve' || verb === 'deny') canDecide = false;
      announce(done(nr));
      update(nr);
      ctx.refreshCounts();
    } catch (e) {
      feedback.textContent = e.message;
    } finally {
      for (const b of actions.querySelectorAll('button')) b.disabled = false;
    }
  }

  function drawActions() {
    const mine = r.requester === me.subject;
    const can = {
      decide: r.state === 'pending' && canDecide,
      cancel: r.state === 'pending' && mine,
      revoke: r.state === 'active',
      extend: r.state === 'active' && mine,
      review: r.break_glass && r.review_required && !mine,
    };
    const key = JSON.stringify(can);
    if (key === actionsKey) return;
    actionsKey = key;
    const parts = [];
    if (can.decide || can.review) {
      parts.push(h('div', { class: 'field' }, h('label', { for: 'comment' }, 'Comment (optional)'), comment));
    }
    const buttons = [];
    if (can.decide) {
      buttons.push(h('button', { type: 'button', class: 'primary', onclick: () => act('approve', comment.value ? { comment: comment.value } : {}, (nr) => nr.state === 'active' ? 'Approved; the access is now active' : 'Approved') }, 'Approve'));
      buttons.push(h('button', { type: 'button', class: 'danger', onclick: () => act('deny', comment.value ? { comment: comment.value } : {}, () => 'Denied') }, 'Deny'));
    }
    if (can.review) {
      buttons.push(h('button', { type: 'button', class: 'primary', onclick: () => act('review', comment.value ? { comment: comment.value } : {}, () => 'Marked reviewed') }, 'Mark break-glass reviewed'));
    }
    if (can.cancel) buttons.push(h('button', { type: 'button', onclick: () => act('cancel', undefined, () => 'Canceled') }, 'Cancel request'));
    if (can.extend) {
      buttons.push(h('a', { class: 'button', 'data-nav': true,
        href: '/ui/request' + qs({ resource: r.resource, role: r.role, extends: r.id }) }, 'Extend…'));
    }
    if (buttons.length) parts.push(h('div', { class: 'actions' }, buttons));
    if (can.revoke) {
      parts.push(h('div', { class: 'field' }, h('label', { for: 'revoke-reason' }, 'Reason to revoke (optional)'), revokeReason),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger',
          onclick: () => act('revoke', revokeReason.value ? { reason: revokeReason.value } : {}, () => 'Revoked') }, 'Revoke now')));
    }
    if (!parts.length) parts.push(h('p', { class: 'muted' }, 'Nothing to do here right now.'));
    replace(actions, h('h2', { id: 'act-h' }, 'What you can do'), parts, feedback);
  }

  function drawStatus() {
    const ended = endedText(r);
    const kids = [h('h1', { id: 'state-h' }, `${r.role} on ${r.resource}`, h('span', { class: 'muted' }, ` #${r.id}`)),
      h('p', { id: 'state-line' }, badge(r, true))];
    if (r.state === 'active') {
      kids.push(h('p', { class: 'big-countdown' }, countdownEl(r.expires_at)));
      if ((entry && entry.kind === 'postgres') || r.kind === 'postgres') {
        if (r.requester === me.subject) {
          kids.push(h('p', {}, 'Connect through the jitgate gateway with your token as the password:'),
            h('code', { class: 'conn', tabindex: '0', 'aria-label': 'psql command' }, psqlLine(gateway, r.resource, r.role, r.requester, location.hostname)));
        }
      }
    } else if (r.state === 'pending') {
      kids.push(h('p', { class: 'muted' }, 'Waiting for approval. This page updates by itself.'));
    } else if (ended) {
      kids.push(h('p', { class: r.state === 'denied' || r.state === 'revoked' ? 'notice bad' : 'notice', id: 'ended' },
        h('span', { class: 'user-text' }, ended)));
    }
    // a live update redraws the heading: keep the focus on it if it was
    // there (where a page change put it), not dropped to the body
    const hadFocus = document.activeElement && document.activeElement.id === 'state-h';
    replace(status, kids);
    if (hadFocus) {
      const h1 = document.getElementById('state-h');
      h1.setAttribute('tabindex', '-1');
      h1.focus();
    }
  }

  function drawTimeline() {
    replace(timeline, h('h2', { id: 'tl-h' }, 'Timeline'),
      auditor && auditEvents.length
        ? h('ol', { class: 'timeline' }, timelineFromAudit(auditEvents))
        : h('ol', { class: 'timeline' }, timelineFromRequest(r)),
      auditor ? null : h('p', { class: 'hint' }, 'From the request itself; auditors also see gateway sessions here.'));
  }

  async function loadAudit() {
    if (!auditor) return;
    try {
      const got = await auditOf(r, auditLast);
      auditEvents = auditEvents.concat(got.events);
      auditLast = got.last;
      drawTimeline();
    } catch (e) { /* the derived timeline stands */ }
  }

  function update(nr) {
    const was = r.state;
    r = nr;
    if ((r.approvals || []).some((a) => a.by === me.subject)) canDecide = false;
    drawStatus();
    replace(facts, factRows(r));
    replace(approvals, h('h2', { id: 'appr-h' }, 'Approvals'), approvalsBlock(r, (entry && entry.approvers) || r.approvers));
    drawActions();
    drawTimeline();
    if (was !== r.state) announce(`Request ${r.id} is now ${stateWord(r.state)}`);
  }

  ctx.title(`#${r.id} ${r.role} on ${r.resource}`);
  replace(view, status, facts, approvals, actions, timeline);
  update(r);
  ctx.onRequest((nr) => {
    if (nr.id !== id) return;
    update(nr);
    loadAudit();
  });
  ctx.onResync(async () => {
    try {
      const [nr, ap] = await Promise.all([get(`/v1/requests/${id}`), listRequests({ approvable: 1 }, 500)]);
      canDecide = ap.some((x) => x.id === id);
      actionsKey = null;
      update(nr);
      loadAudit();
    } catch (e) { /* keep what is shown */ }
  });
  // the page is complete with its timeline from the audit log
  await loadAudit();
}
