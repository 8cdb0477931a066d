// Active grants (approvers, admins): everything active now that I may see,
// filterable, each with a revoke that asks for a reason.
import { h, tableWrap, replace, announce } from './dom.js';
import { listRequests, post } from './api.js';
import { badge, countdownEl, timeEl } from './fmt.js';

const COLUMNS = ['Who', 'Access', 'State', 'Time left', 'Since', 'Reason', 'Revoke'];

export async function grantsPage(view, ctx) {
  ctx.title('Active grants');
  let grants = await listRequests({ state: 'active' }, 1000);
  const filter = h('input', { type: 'search', id: 'grant-filter', autocomplete: 'off' });
  const body = h('tbody', {});
  const empty = h('div', { class: 'empty' }, 'Nothing is active right now.');
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const table = tableWrap('Active grants', h('table', { class: 'stack' },
    h('caption', { class: 'sr-only' }, 'Active grants'),
    h('thead', {}, h('tr', {}, COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
    body));

  function row(r) {
    const reason = h('input', { type: 'text', id: `rv-${r.id}`, maxlength: '1024', autocomplete: 'off', placeholder: 'reason' });
    const err = h('p', { class: 'error', role: 'alert' });
    const btn = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${r.role} on ${r.resource} from ${r.requester}` }, 'Revoke');
    btn.addEventListener('click', async () => {
      err.textContent = '';
      btn.disabled = true;
      try {
        await post(`/v1/requests/${r.id}/revoke`, reason.value ? { reason: reason.value } : {});
        announce(`Revoked ${r.role} on ${r.resource} from ${r.requester}`);
        grants = grants.filter((g) => g.id !== r.id);
        draw();
      } catch (e) {
        err.textContent = e.message;
        btn.disabled = false;
      }
    });
    const td = (i, attrs, ...kids) => h('td', { ...attrs, 'data-label': COLUMNS[i] }, ...kids);
    return h('tr', { 'data-request': r.id },
      td(0, {}, r.requester),
      td(1, {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, `${r.role} on ${r.resource}`)),
      td(2, {}, badge(r)),
      td(3, {}, countdownEl(r.expires_at)),
      td(4, {}, timeEl(r.activated_at)),
      td(5, { class: 'detail user-text' }, r.reason || ''),
      h('td', {}, h('label', { for: `rv-${r.id}`, class: 'sr-only' }, `Reason to revoke #${r.id}`), reason,
        h('div', { class: 'actions' }, btn), err));
  }

  function draw() {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = grants.filter((r) => words.every((w) =>
      `${r.requester} ${r.resource} ${r.role} ${r.ticket || ''}`.toLowerCase().includes(w)))
      .sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
    // keep rows that are there (and any reason being typed)
    const have = new Map([...body.children].map((tr) => [Number(tr.dataset.request), tr]));
    for (const [id, tr] of have) if (!shown.some((r) => r.id === id)) tr.remove();
    let prev = null;
    for (const r of shown) {
      const tr = have.get(r.id) || row(r);
      if (prev ? prev.nextSibling !== tr : body.firstChild !== tr) {
        if (prev) prev.after(tr); else body.prepend(tr);
      }
      prev = tr;
    }
    empty.hidden = grants.length > 0;
    table.hidden = grants.length === 0;
    count.textContent = words.length ? `${shown.length} of ${grants.length} shown` : `${grants.length} active`;
  }
  filter.addEventListener('input', draw);

  replace(view, h('h1', {}, 'Active grants'),
    h('div', { class: 'field' }, h('label', { for: 'grant-filter' }, 'Filter by person, resource, role or ticket'), filter, count),
    empty, table);
  draw();
  ctx.onRequest((r) => {
    grants = grants.filter((g) => g.id !== r.id);
    if (r.state === 'active') grants.push(r);
    draw();
  });
  ctx.onResync(async () => {
    try { grants = await listRequests({ state: 'active' }, 1000); draw(); } catch (e) { /* keep */ }
  });
}
