// Sign-in: single sign-on at the IdP when jitgate has one, and a static
// token for setups without (or for service identities).
import { h, replace, field, showFieldError, announce } from './dom.js';
import { post } from './api.js';

// Whether jitgate signs in at an IdP, asked without side effects: a
// `next` that is not a path is refused (400) when single sign-on is
// configured, before any login state is made; without it the answer is
// 404.
async function ssoAvailable() {
  try {
    const res = await fetch('/auth/login?next=probe', { redirect: 'manual', credentials: 'same-origin', cache: 'no-store' });
    return res.status === 400;
  } catch (e) {
    return false;
  }
}

export function signinPage(main, { next, onSignedIn }) {
  const sso = h('div', { hidden: true },
    h('a', { class: 'button primary', href: '/auth/login?next=' + encodeURIComponent(next), id: 'sso' },
      'Sign in with single sign-on'),
    h('p', { class: 'divider' }, 'or'));
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const general = h('div', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in with token');
  const form = h('form', { novalidate: true },
    field('token', 'Access token', input,
      'A token your administrator gave you. It is sent once to jitgate and never stored in this browser.'),
    general, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showFieldError('token', '');
    general.textContent = '';
    if (!input.value) {
      showFieldError('token', 'Enter your token.');
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      await post('/auth/token', { token: input.value });
      input.value = '';
      announce('Signed in');
      onSignedIn();
    } catch (e) {
      const msg = e.status === 401 ? 'That token is not valid.' : e.message;
      showFieldError('token', msg);
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, h('div', { class: 'signin panel' },
    h('h1', {}, 'Sign in to jitgate'),
    h('p', { class: 'muted' }, 'Ask for access to production systems, approve requests and see who had what.'),
    sso, form));
  // settles when the page is complete
  return ssoAvailable().then((ok) => {
    sso.hidden = !ok;
    sso.dataset.probed = 'yes';
  });
}
