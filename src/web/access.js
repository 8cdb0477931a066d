// My access: my active grants with their countdowns, then my recent
// requests.  Live: a grant that ends turns into its reason in place.
import { h, replace } from './dom.js';
import { listRequests } from './api.js';
import { badge, countdownEl, durationText, timeEl } from './fmt.js';
import { endedText } from './request_page.js';

function grantCard(r) {
  return h('li', { class: 'card' + (r.break_glass ? ' break-glass' : ''), 'data-request': r.id },
    h('header', {},
      h('h3', {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, `${r.role} on ${r.resource}`)),
      h('span', {}, badge(r))),
    h('p', {}, countdownEl(r.expires_at), h('span', { class: 'muted' }, ' · ends '), timeEl(r.expires_at)),
    r.reason ? h('p', { class: 'user-text muted' }, r.reason) : null);
}

function requestRow(r) {
  const ended = endedText(r);
  return h('tr', { 'data-request': r.id },
    h('td', {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, `#${r.id}`)),
    h('td', {}, `${r.role} on ${r.resource}`),
    h('td', {}, badge(r)),
    h('td', {}, durationText(r.duration_s)),
    h('td', {}, timeEl(r.created_at)),
    h('td', { class: 'detail user-text' }, ended || (r.state === 'pending'
      ? `${(r.approvals || []).length} of ${r.approvals_required} approvals` : '')));
}

export async function accessPage(view, ctx) {
  ctx.title('My access');
  let list = await listRequests({ mine: 1 }, 200);

  function draw() {
    const active = list.filter((r) => r.state === 'active')
      .sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
    replace(view,
      h('h1', {}, 'My access'),
      h('h2', {}, 'Active now'),
      active.length
        ? h('ul', { class: 'cards', id: 'active-grants' }, active.map(grantCard))
        : h('div', { class: 'empty' }, h('p', {}, 'You have no access right now — ',
          h('a', { href: '/ui/request', 'data-nav': true }, 'request some'), '.')),
      h('h2', {}, 'My recent requests'),
      list.length
        ? h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, ['Request', 'Access', 'State', 'For', 'Asked', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, list.slice(0, 50).map(requestRow))))
        : h('p', { class: 'muted' }, 'You have not asked for anything yet.'));
  }

  draw();
  ctx.onRequest((r) => {
    if (r.requester !== ctx.me.subject) return;
    const i = list.findIndex((x) => x.id === r.id);
    if (i >= 0) list[i] = r; else list.unshift(r);
    draw();
  });
  ctx.onResync(async () => {
    try { list = await listRequests({ mine: 1 }, 200); draw(); } catch (e) { /* keep */ }
  });
}
