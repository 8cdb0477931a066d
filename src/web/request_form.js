// Request: pick from the catalog (never type a resource name), a duration,
// the reason and ticket the policy wants; break-glass where allowed, with
// a confirmation.  The API's errors appear beside the field they name.
import { h, replace, field, showFieldError, announce } from './dom.js';
import { post } from './api.js';
import { approvalText, durationText, parseDuration, ticketExample } from './fmt.js';

const QUICK = [['15m', 900], ['1h', 3600], ['4h', 14400]];
const FIELDS = ['entry', 'duration', 'reason', 'ticket', 'break_glass'];

function facts(e) {
  const out = [approvalText(e), `up to ${durationText(e.max_duration_s)}`];
  if (e.require_reason) out.push('reason required');
  if (e.ticket_pattern) {
    const ex = ticketExample(e.ticket_pattern);
    out.push(ex ? `ticket like ${ex}` : `ticket matching ${e.ticket_pattern}`);
  }
  return out.join(' · ');
}

export async function requestFormPage(view, ctx, _arg, params) {
  ctx.title('Request access');
  const entries = await ctx.catalog();
  const extendsId = /^[1-9][0-9]{0,17}$/.test(params.get('extends') || '') ? params.get('extends') : null;
  const head = [h('h1', {}, extendsId ? `Extend request #${extendsId}` : 'Request access'),
    h('p', { class: 'lead' }, extendsId
      ? 'An extension is a new request with its own approvals and its own clock.'
      : 'Pick what you need, for how long, and say why.')];
  if (!entries.length) {
    replace(view, head, h('div', { class: 'empty' },
      h('p', {}, 'There is nothing you may request.'),
      h('p', {}, 'No policy lets you ask for access yet; your administrator can add one.')));
    return;
  }

  let chosen = null;
  const byResource = new Map();
  entries.forEach((e, i) => {
    if (!byResource.has(e.resource)) byResource.set(e.resource, []);
    byResource.get(e.resource).push([e, i]);
  });

  // the catalog: a searchable list of radio buttons grouped by resource
  const search = h('input', { type: 'search', autocomplete: 'off', placeholder: 'orders, write…' });
  const matches = h('p', { class: 'hint', 'aria-live': 'polite' });
  const groups = [];
  for (const [res, list] of byResource) {
    const opts = list.map(([e, i]) => {
      const id = `opt-${i}`;
      const radio = h('input', { type: 'radio', name: 'entry', id, value: String(i),
        'aria-describedby': `${id}-facts` });
      radio.addEventListener('change', () => choose(e));
      const tags = [];
      if (e.break_glass_max_duration_s) tags.push(h('span', { class: 'tag bg' }, 'break-glass allowed'));
      return h('div', { class: 'option', 'data-search': `${e.resource} ${e.role} ${e.policy}`.toLowerCase() },
        radio,
        h('label', { for: id }, e.role, ' ', tags,
          h('span', { class: 'facts-line', id: `${id}-facts` }, facts(e))));
    });
    const kind = list[0][0].kind;
    const fs = h('fieldset', {}, h('legend', {}, res, h('span', { class: 'kind' }, kind === 'postgres' ? 'PostgreSQL' : kind)), opts);
    groups.push(fs);
  }
  const catalog = h('div', { class: 'catalog', id: 'entry', tabindex: '-1', role: 'group',
    'aria-labelledby': 'entry-label', 'aria-describedby': 'entry-error' }, groups);
  search.addEventListener('input', () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let n = 0;
    for (const fs of groups) {
      let any = false;
      for (const opt of fs.querySelectorAll('.option')) {
        const ok = words.every((w) => opt.dataset.search.includes(w));
        opt.hidden = !ok;
        any = any || ok;
        if (ok) n++;
      }
      fs.hidden = !any;
    }
    matches.textContent = words.length ? `${n} match${n === 1 ? '' : 'es'}` : '';
  });

  // duration: quick picks and free entry
  const duration = h('input', { type: 'text', name: 'duration', autocomplete: 'off', inputmode: 'text', required: true });
  const chips = h('div', { class: 'row', role: 'group', 'aria-label': 'Quick picks' });
  function maxNow() {
    if (!chosen) return null;
    return bg.checked ? chosen.break_glass_max_duration_s : chosen.max_duration_s;
  }
  function drawChips() {
    const max = maxNow();
    const picks = QUICK.filter(([, s]) => max === null || s < max).map(([t]) => t);
    if (max) picks.push(durationText(max));
    replace(chips, picks.map((t, i) => {
      const label = max && i === picks.length - 1 ? `${t} (max)` : t;
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(duration.value === t) }, label);
      b.addEventListener('click', () => {
        duration.value = t;
        syncChips();
        showFieldError('duration', '');
      });
      b.dataset.value = t;
      return b;
    }));
  }
  function syncChips() {
    for (const b of chips.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.value === duration.value.trim()));
  }
  duration.addEventListener('input', syncChips);

  const reason = h('textarea', { name: 'reason', maxlength: '1024', rows: '3' });
  const ticket = h('input', { type: 'text', name: 'ticket', autocomplete: 'off', maxlength: '128' });
  const bg = h('input', { type: 'checkbox', id: 'break_glass', 'aria-describedby': 'break_glass-hint break_glass-error' });
  const bgBox = h('div', { class: 'breakglass-box', hidden: true },
    h('label', { class: 'check', for: 'break_glass' }, bg, 'Emergency: break glass'),
    h('p', { class: 'hint', id: 'break_glass-hint' }),
    h('p', { class: 'error', id: 'break_glass-error' }));
  bg.addEventListener('change', () => { drawChips(); describe(); });

  const reasonField = field('reason', 'Reason', reason);
  const ticketField = field('ticket', 'Ticket', ticket);
  const durationField = field('duration', 'Duration', duration,
    'Pick one or type a duration like 45m or 1h30m.');
  durationField.insertBefore(chips, duration);
  const details = h('div', { hidden: true }, durationField, reasonField, ticketField, bgBox);
  const general = h('div', { class: 'error', role: 'alert', id: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Request access');
  const summary = h('p', { class: 'hint', id: 'summary', 'aria-live': 'polite' });

  function describe() {
    if (!chosen) return;
    const bgOn = bg.checked;
    const reqReason = chosen.require_reason || bgOn;
    reasonField.querySelector('label').textContent = reqReason ? 'Reason (required)' : 'Reason (optional)';
    const ex = ticketExample(chosen.ticket_pattern);
    ticketField.querySelector('label').textContent = chosen.ticket_pattern && !bgOn ? 'Ticket (required)' : 'Ticket (optional)';
    const hint = ticketField.querySelector('.hint') || h('p', { class: 'hint', id: 'ticket-hint' });
    hint.textContent = chosen.ticket_pattern
      ? (ex ? `Like ${ex} (must match ${chosen.ticket_pattern})` : `Must match ${chosen.ticket_pattern}`)
      : 'The change or incident this is for, if there is one.';
    if (!hint.parentNode) {
      ticket.after(hint);
      ticket.setAttribute('aria-describedby', 'ticket-hint ticket-error');
    }
    ticket.placeholder = ex || '';
    bgBox.hidden = !chosen.break_glass_max_duration_s;
    if (chosen.break_glass_max_duration_s) {
      bgBox.querySelector('#break_glass-hint').textContent =
        `Only in an emergency: active at once for at most ${durationText(chosen.break_glass_max_duration_s)}, ` +
        'every channel is alerted, and an approver must review it afterwards.';
    }
    submit.textContent = bgOn ? 'Break glass…' : extendsId ? 'Request extension' : 'Request access';
    submit.className = bgOn ? 'danger' : 'primary';
    summary.textContent = `${chosen.resource} · ${chosen.role}: ${bgOn ? 'break-glass, active at once' : approvalText(chosen)}.`;
  }

  function choose(e) {
    chosen = e;
    details.hidden = false;
    showFieldError('entry', '');
    if (!bg.checked || !e.break_glass_max_duration_s) bg.checked = false;
    const max = maxNow();
    const cur = parseDuration(duration.value);
    if (!duration.value || (cur && max && cur > max)) duration.value = max && max < 3600 ? durationText(max) : '1h';
    drawChips();
    syncChips();
    describe();
  }

  function clearErrors() {
    for (const f of FIELDS) showFieldError(f, '');
    general.textContent = '';
  }

  const dialog = h('dialog', { 'aria-labelledby': 'bg-title' });
  const form = h('form', { novalidate: true, 'aria-label': 'Request access' },
    h('div', { class: 'field' },
      h('label', { for: 'catalog-search' }, 'Find a resource or role'),
      Object.assign(search, { id: 'catalog-search' }), matches),
    h('div', { class: 'field' },
      h('span', { class: 'label', id: 'entry-label' }, 'Resource and role'), catalog,
      h('p', { class: 'error', id: 'entry-error' })),
    details, summary, general, h('div', { class: 'actions' }, submit));

  async function send() {
    const body = { resource: chosen.resource, role: chosen.role, duration: duration.value.trim() };
    if (reason.value.trim()) body.reason = reason.value;
    if (ticket.value.trim()) body.ticket = ticket.value.trim();
    if (bg.checked) body.break_glass = true;
    if (extendsId) body.extends = Number(extendsId);
    submit.disabled = true;
    try {
      const r = await post('/v1/requests', body);
      announce(r.state === 'active' ? 'Access granted' : 'Request sent');
      ctx.navigate('/ui/requests/' + r.id);
    } catch (e) {
      const f = e.field;
      const target = f === 'resource' || f === 'role' ? 'entry' : FIELDS.includes(f) ? f : null;
      if (target) {
        showFieldError(target, e.message);
        document.getElementById(target).focus();
      } else {
        general.textContent = e.message;
      }
    } finally {
      submit.disabled = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors();
    if (!chosen) {
      showFieldError('entry', 'Pick a resource and role from the list.');
      (catalog.querySelector('input:not([hidden])') || catalog).focus();
      return;
    }
    if (!duration.value.trim()) {
      showFieldError('duration', 'duration: say for how long, like 30m or 1h.');
      duration.focus();
      return;
    }
    if (bg.checked) {
      replace(dialog,
        h('h2', { id: 'bg-title' }, 'Break glass?'),
        h('p', {}, `You get ${chosen.role} on ${chosen.resource} for ${duration.value.trim()} at once, without approval.`),
        h('p', {}, 'Every notification channel is alerted now, and an approver must review this afterwards.'),
        h('form', { method: 'dialog', class: 'actions' },
          h('button', { value: 'cancel', type: 'submit', autofocus: true }, 'Cancel'),
          h('button', { value: 'confirm', type: 'submit', class: 'danger' }, 'Break glass now')));
      dialog.returnValue = '';
      dialog.showModal();
      return;
    }
    send();
  });
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'confirm') send();
    else submit.focus();
  });

  replace(view, head,
    extendsId ? h('div', { class: 'notice' }, `This extends request #${extendsId}; it stays active until its own end.`) : null,
    h('div', { class: 'panel' }, form), dialog);

  // preselect from the address (extend, links from notifications)
  const want = [params.get('resource'), params.get('role')];
  if (want[0] && want[1]) {
    const i = entries.findIndex((e) => e.resource === want[0] && e.role === want[1]);
    if (i >= 0) {
      document.getElementById(`opt-${i}`).checked = true;
      choose(entries[i]);
    }
  }
}
