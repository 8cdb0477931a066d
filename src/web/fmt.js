// Words, times and durations, the same on every page.
import { h } from './dom.js';

const STATE_WORDS = {
  pending: 'pending', active: 'active', denied: 'denied', revoked: 'revoked',
  expired: 'expired', canceled: 'canceled', timed_out: 'timed out',
};

export function stateWord(s) { return STATE_WORDS[s] || s; }

// The state badge, with the break-glass flag beside it while it needs a
// review.
export function badge(r, big) {
  const out = [h('span', { class: `badge st-${r.state}${big ? ' big' : ''}`, 'data-state': r.state },
    stateWord(r.state))];
  if (r.break_glass) {
    out.push(' ', h('span', { class: `badge bg${big ? ' big' : ''}` },
      r.review_required ? 'break-glass · review required' : 'break-glass'));
  }
  return out;
}

// "1h30m" from seconds, as the API writes durations.
export function durationText(s) {
  if (s === null || s === undefined) return '';
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  let out = '';
  if (d) out += d + 'd';
  if (hr) out += hr + 'h';
  if (m) out += m + 'm';
  if (sec || !out) out += sec + 's';
  return out;
}

// Seconds from "90s", "30m", "1h30m", "2d" (units in that order); null
// when it is not such a duration.
export function parseDuration(text) {
  const m = /^\s*(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\s*$/.exec(text || '');
  if (!m || !(m[1] || m[2] || m[3] || m[4])) return null;
  return (+(m[1] || 0)) * 86400 + (+(m[2] || 0)) * 3600 + (+(m[3] || 0)) * 60 + (+(m[4] || 0));
}

const absFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  hour12: false, timeZoneName: 'short',
});

export function absTime(iso) {
  if (!iso) return '';
  return absFmt.format(new Date(iso));
}

export function relTime(iso, now = Date.now()) {
  if (!iso) return '';
  const diff = Date.parse(iso) - now;
  const a = Math.abs(diff);
  let n, unit;
  if (a < 45000) return diff >= 0 ? 'in a moment' : 'just now';
  if (a < 3600000) { n = Math.round(a / 60000); unit = 'min'; } else if (a < 86400000) {
    n = Math.round(a / 3600000); unit = n === 1 ? 'hour' : 'hours';
  } else { n = Math.round(a / 86400000); unit = n === 1 ? 'day' : 'days'; }
  return diff >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

// <time> with the relative words, the absolute time in the viewer's zone
// on hover; kept fresh by tick().
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: absTime(iso), 'data-rel': iso }, relTime(iso));
}

export function leftText(ms) {
  if (ms <= 0) return 'ending now';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${hr}h left`;
  if (hr) return `${hr}h ${String(m).padStart(2, '0')}m left`;
  return `${m}m ${String(sec).padStart(2, '0')}s left`;
}

const SOON_MS = 5 * 60 * 1000;

export function countdownEl(expiresIso) {
  const el = h('span', { class: 'countdown', 'data-expires': expiresIso, title: 'until ' + absTime(expiresIso) });
  updateCountdown(el, Date.now());
  return el;
}

function updateCountdown(el, now) {
  const left = Date.parse(el.dataset.expires) - now;
  el.textContent = leftText(left);
  el.classList.toggle('soon', left < SOON_MS);
}

// Refreshes every countdown and relative time on the page (once a second).
export function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-expires]')) updateCountdown(el, now);
  for (const el of document.querySelectorAll('[data-rel]')) {
    const t = relTime(el.dataset.rel, now);
    if (el.textContent !== t) el.textContent = t;
  }
}

// An example that matches a ticket pattern such as ^OPS-[0-9]+$ ("OPS-123"),
// or null when the pattern is beyond this simple reading.
export function ticketExample(pattern) {
  if (!pattern) return null;
  const classes = [['[0-9]', '1234567890'], ['\\d', '1234567890'], ['[A-Z]', 'ABCDEFGHIJ'],
    ['[a-z]', 'abcdefghij'], ['[A-Za-z]', 'Abcdefghij'], ['[a-zA-Z]', 'Abcdefghij']];
  let src = pattern.replace(/^\^/, '').replace(/\$$/, '');
  let out = '';
  while (src.length) {
    let sample = null;
    for (const [k, v] of classes) {
      if (src.startsWith(k)) { sample = v; src = src.slice(k.length); break; }
    }
    if (sample === null) {
      if (src[0] === '\\' && /^[^\w\s]$/.test(src[1] || '')) { sample = src[1]; src = src.slice(2); }
      else if (/^[\w\- :#/]$/.test(src[0])) { sample = src[0]; src = src.slice(1); }
      else return null;
    }
    let count = 1;
    const q = /^(?:\{(\d+)(?:,\d*)?\}|([+*?]))/.exec(src);
    if (q) {
      src = src.slice(q[0].length);
      count = q[1] !== undefined ? +q[1] : q[2] === '?' ? 0 : 3;
    }
    if (count > 40) return null;
    out += sample.repeat(Math.ceil(count / sample.length) || 0).slice(0, count);
  }
  return verified(pattern, out);
}

function verified(pattern, example) {
  try {
    return example !== null && new RegExp(pattern).test(example) ? example : null;
  } catch (e) {
    return null;
  }
}

export function principalText(p) {
  return p.replace(/^user:/, '').replace(/^group:/, 'group ');
}

// "needs 2 of group sre, carol" / "granted at once"
export function approvalText(e) {
  if (!e.approvals) return 'granted at once';
  const who = (e.approvers || []).map(principalText).join(', ');
  return `needs ${e.approvals} approval${e.approvals === 1 ? '' : 's'}` + (who ? ` from ${who}` : '');
}

// A libpq connection-string value: as it is when it needs no quoting,
// else in single quotes with \ and ' escaped.
function conninfoValue(v) {
  const s = String(v);
  return s !== '' && !/[\s'\\]/.test(s) ? s : `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

// One shell word: double quotes as people write them, or single quotes
// when the text holds what a shell would expand inside double quotes.
function shellWord(s) {
  return /[$`\\"!]/.test(s) ? `'${s.replace(/'/g, "'\\''")}'` : `"${s}"`;
}

// The ready-to-paste psql command for a grant on a postgres resource:
// gateway is the catalog's "HOST:PORT" (IPv6 in brackets), or absent when
// the daemon does not know it (then the page's own host, default port).
export function psqlLine(gateway, resource, role, user, fallbackHost) {
  let host = fallbackHost;
  let port = null;
  if (gateway) {
    const i = gateway.lastIndexOf(':');
    host = gateway.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    port = gateway.slice(i + 1);
  }
  const parts = [`host=${conninfoValue(host)}`];
  if (port) parts.push(`port=${conninfoValue(port)}`);
  parts.push(`dbname=${conninfoValue(`${resource}@${role}`)}`, `user=${conninfoValue(user)}`);
  return `psql ${shellWord(parts.join(' '))}`;
}
