// My access: my active grants with their countdowns, then my recent
// requests.  Live: a grant that ends turns into its reason in place.
import { h, tableWrap, replace } from './dom.js';
import { listRequests } from './api.js';
import { badge, countdownEl, durationText, timeEl } from './fmt.js';
import { endedText } from './request_page.js';

function grantCard(r) {
  return h('li', { class: 'card' + (r.break_glass ? ' break-glass' : ''), 'data-request': r.id },
    h('header', {},
      h('h3', {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, `${r.role} on ${r.resource}`)),
      h('span', {}, badge(r))),
    h('p', {}, countdownEl(r.expires_at), h('span', { class: 'muted' }, ' · ends '), timeEl(r.expires_at)),
    r.extends ? h('p', { class: 'muted' }, 'Extends ', h('a', { href: `/ui/requests/${r.extends}`, 'data-nav': true }, `#${r.extends}`)) : null,
    r.reason ? h('p', { class: 'user-text muted' }, r.reason) : null);
}

const COLUMNS = ['Request', 'Access', 'State', 'For', 'Asked', 'Outcome'];

function requestRow(r) {
  const ended = endedText(r);
  const td = (i, attrs, ...kids) => h('td', { ...attrs, 'data-label': COLUMNS[i] }, ...kids);
  return h('tr', { 'data-request': r.id },
    td(0, {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, `#${r.id}`)),
    td(1, {}, `${r.role} on ${r.resource}`, r.extends
      ? [' · extends ', h('a', { href: `/ui/requests/${r.extends}`, 'data-nav': true }, `#${r.extends}`)] : null),
    td(2, {}, badge(r)),
    td(3, {}, durationText(r.duration_s)),
    td(4, {}, timeEl(r.created_at)),
    td(5, { class: 'detail user-text' }, ended || (r.state === 'pending'
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
        ? tableWrap('My recent requests', h('table', { class: 'stack' },
          h('thead', {}, h('tr', {}, COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
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
