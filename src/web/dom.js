// Building the page.  Text is only ever set with textContent (text nodes):
// nothing in this app assigns HTML, so a reason like <img onerror=...>
// is shown as the characters it is.

// h('button', {class: 'primary', onclick: fn}, 'Approve')
// Attributes: class, text, on* (listeners), booleans (true sets, false or
// null leaves out), anything else via setAttribute.  Children: nodes,
// strings (as text), arrays, null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// A table in a box that scrolls sideways when the table is wider than the
// screen (a phone): the box is a named region in the tab order, so the
// keyboard can scroll it too, whether or not a row has a link in it yet.
export function tableWrap(label, table) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let announceTimer = null;
// Says msg to screen readers (aria-live region), once.
export function announce(msg) {
  const el = document.getElementById('announce');
  if (!el) return;
  el.textContent = '';
  clearTimeout(announceTimer);
  // a fresh text node after a tick, so the same words are read again
  announceTimer = setTimeout(() => { el.textContent = msg; }, 50);
}

// A labelled field: {id, label, hint, control} -> div with the error slot
// that showFieldError fills.
export function field(id, label, control, hint) {
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null;
  const errEl = h('p', { class: 'error', id: id + '-error' });
  control.id = id;
  const described = [hint ? id + '-hint' : null, id + '-error'].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  return h('div', { class: 'field', 'data-field': id },
    h('label', { for: id }, label), control, hintEl, errEl);
}

export function showFieldError(id, message) {
  const input = document.getElementById(id);
  const err = document.getElementById(id + '-error');
  if (err) err.textContent = message || '';
  if (input) {
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}
