// Approvals: what I may decide, oldest first, one card each with what it
// takes to say yes or no; then break-glass grants waiting for a review.
import { h, replace, announce } from './dom.js';
import { listRequests, post } from './api.js';
import { badge, durationText, timeEl } from './fmt.js';

function card(r, ctx, kind, onDone) {
  const cid = `c-${kind}-${r.id}`;
  const comment = h('textarea', { id: cid, maxlength: '1024', rows: '2' });
  const error = h('p', { class: 'error', role: 'alert', id: `${cid}-error` });
  comment.setAttribute('aria-describedby', `${cid}-error`);
  const buttons = [];
  async function act(verb, words) {
    error.textContent = '';
    for (const b of buttons) b.disabled = true;
    try {
      const nr = await post(`/v1/requests/${r.id}/${verb}`, comment.value ? { comment: comment.value } : {});
      announce(`${words} request ${r.id} of ${r.requester}` + (nr.state === 'active' && verb === 'approve' ? '; it is now active' : ''));
      onDone(r.id);
    } catch (e) {
      error.textContent = e.message;
      for (const b of buttons) b.disabled = false;
    }
  }
  const label = `${r.requester}: ${r.role} on ${r.resource}`;
  if (kind === 'decide') {
    buttons.push(h('button', { type: 'button', class: 'primary', 'aria-label': `Approve ${label}`, onclick: () => act('approve', 'Approved') }, 'Approve'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Deny ${label}`, onclick: () => act('deny', 'Denied') }, 'Deny'));
  } else {
    buttons.push(h('button', { type: 'button', class: 'primary', 'aria-label': `Mark reviewed: ${label}`, onclick: () => act('review', 'Reviewed') }, 'Mark reviewed'));
  }
  const approvals = r.approvals || [];
  return h('li', { class: 'card' + (r.break_glass ? ' break-glass' : ''), 'data-request': r.id },
    h('header', {},
      h('h3', {}, h('a', { href: `/ui/requests/${r.id}`, 'data-nav': true }, label)),
      h('span', {}, badge(r))),
    h('dl', { class: 'facts' },
      h('dt', {}, 'For'), h('dd', {}, durationText(r.duration_s)),
      h('dt', {}, 'Reason'), h('dd', { class: 'user-text' }, r.reason || '—'),
      h('dt', {}, 'Ticket'), h('dd', { class: 'user-text' }, r.ticket || '—'),
      h('dt', {}, 'Asked'), h('dd', {}, timeEl(r.created_at)),
      r.extends ? [h('dt', {}, 'Extends'), h('dd', {},
        h('a', { href: `/ui/requests/${r.extends}`, 'data-nav': true }, `request #${r.extends}`))] : null,
      kind === 'decide' ? [h('dt', {}, 'Approvals'), h('dd', {},
        `${approvals.length} of ${r.approvals_required}`,
        approvals.length ? ` (${approvals.map((a) => a.by).join(', ')})` : '')] : null,
      kind === 'review' ? [h('dt', {}, 'State'), h('dd', {}, r.state)] : null),
    h('div', { class: 'field' }, h('label', { for: cid }, 'Comment (optional)'), comment),
    h('div', { class: 'actions' }, buttons), error);
}

export async function approvalsPage(view, ctx) {
  ctx.title('Approvals');
  let pending = [];
  let reviews = [];
  const pendingList = h('ul', { class: 'cards', id: 'inbox' });
  const reviewList = h('ul', { class: 'cards', id: 'reviews' });
  const pendingEmpty = h('div', { class: 'empty' }, 'Nothing to approve. New requests appear here by themselves.');
  const reviewEmpty = h('p', { class: 'muted' }, 'No break-glass access waits for a review.');

  async function load() {
    const [p, all] = await Promise.all([
      listRequests({ approvable: 1 }, 500),
      listRequests({}, 1000),
    ]);
    pending = p.sort((a, b) => a.id - b.id);
    reviews = all.filter((r) => r.break_glass && r.review_required && r.requester !== ctx.me.subject)
      .sort((a, b) => a.id - b.id);
  }

  function done(id) {
    pending = pending.filter((r) => r.id !== id);
    reviews = reviews.filter((r) => r.id !== id);
    ctx.refreshCounts();
    draw();
  }

  // cards that are already shown stay (with what is typed in them)
  function sync(list, items, kind) {
    const have = new Map([...list.children].map((li) => [Number(li.dataset.request), li]));
    const want = new Set(items.map((r) => r.id));
    for (const [id, li] of have) if (!want.has(id)) li.remove();
    let prev = null;
    for (const r of items) {
      let li = have.get(r.id);
      if (!li || li.dataset.sig !== sig(r)) {
        const fresh = card(r, ctx, kind, done);
        fresh.dataset.sig = sig(r);
        if (li) {
          // keep the comment being written
          fresh.querySelector('textarea').value = li.querySelector('textarea').value;
          li.replaceWith(fresh);
        }
        li = fresh;
      }
      if (prev ? prev.nextSibling !== li : list.firstChild !== li) {
        if (prev) prev.after(li); else list.prepend(li);
      }
      prev = li;
    }
  }
  const sig = (r) => `${r.state}/${(r.approvals || []).length}/${r.review_required}`;

  function draw() {
    sync(pendingList, pending, 'decide');
    sync(reviewList, reviews, 'review');
    pendingEmpty.hidden = pending.length > 0;
    reviewEmpty.hidden = reviews.length > 0;
    document.getElementById('pending-h').textContent = `Waiting for you (${pending.length})`;
  }

  await load();
  replace(view,
    h('h1', {}, 'Approvals'),
    h('h2', { id: 'pending-h' }), pendingEmpty, pendingList,
    h('h2', {}, 'Break-glass reviews'), reviewEmpty, reviewList);
  draw();

  let timer = null;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try { await load(); draw(); } catch (e) { /* keep what is shown */ }
    }, 30);
  };
  ctx.onRequest((r) => {
    // the server decides what I may approve; ask it again
    const shown = pending.some((x) => x.id === r.id) || reviews.some((x) => x.id === r.id);
    if (shown || r.state === 'pending' || r.break_glass) {
      if (r.state !== 'pending') pending = pending.filter((x) => x.id !== r.id);
      draw();
      reload();
    }
  });
  ctx.onResync(reload);
}
