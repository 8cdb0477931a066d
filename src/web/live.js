// Live updates from GET /v1/events (Server-Sent Events).  Read with fetch
// rather than EventSource so that a reconnect always resumes with the
// Last-Event-ID of the last event seen, and so that a refusal (401, 403)
// is told apart from a dropped connection.

const listeners = new Set();
const stateListeners = new Set();
let lastId = null;
let running = false;
let abort = null;
let state = 'idle';

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// fn(state): 'connecting' | 'live' | 'reconnecting' | 'stopped'; also
// fn('resync') after a reconnect, for views to fetch afresh.
export function onLiveState(fn) {
  stateListeners.add(fn);
  return () => stateListeners.delete(fn);
}

export function liveState() { return state; }

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function dispatch(ev) {
  if (ev.id) lastId = ev.id;
  // too far behind to replay: every view loads afresh
  if (ev.event === 'reset') {
    for (const fn of stateListeners) fn('resync');
    return;
  }
  if (ev.event !== 'request' || !ev.data) return;
  let obj;
  try { obj = JSON.parse(ev.data); } catch (e) { return; }
  for (const fn of listeners) {
    try { fn(obj, ev.id); } catch (e) { console.error(e); }
  }
}

// The event-stream format: lines, a blank line ends an event.
function makeParser() {
  let buf = '';
  let cur = { event: 'message', data: [], id: null };
  return (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (cur.data.length || cur.id) dispatch({ event: cur.event, id: cur.id, data: cur.data.join('\n') });
        cur = { event: 'message', data: [], id: null };
        continue;
      }
      if (line[0] === ':') continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (name === 'event') cur.event = value;
      else if (name === 'data') cur.data.push(value);
      else if (name === 'id' && !value.includes('\0')) cur.id = value;
    }
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs until stopLive(); onAuthLost() when the session is gone.
export async function startLive(onAuthLost) {
  if (running) return;
  running = true;
  let delay = 500;
  let everConnected = false;
  setState('connecting');
  while (running) {
    abort = new AbortController();
    try {
      const headers = { Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const res = await fetch('/v1/events', {
        headers, credentials: 'same-origin', cache: 'no-store', signal: abort.signal,
      });
      if (res.status === 401) {
        running = false;
        setState('stopped');
        onAuthLost();
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setState('live');
      if (everConnected) for (const fn of stateListeners) fn('resync');
      everConnected = true;
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const feed = makeParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value);
      }
    } catch (e) {
      if (!running) break;
    }
    if (!running) break;
    setState('reconnecting');
    await sleep(delay + Math.random() * 250);
    delay = Math.min(delay * 2, 10000);
  }
  setState('stopped');
}

export function stopLive() {
  running = false;
  if (abort) abort.abort();
  lastId = null;
}
