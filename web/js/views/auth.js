// Register / sign in.

import * as api from '../api.js';
import { h } from '../lib/dom.js';

const MESSAGES = {
  conflict: 'That username is taken.',
  unauthorized: 'Wrong username or password.',
  network: 'Cannot reach the server. Check your connection and try again.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
};

export function renderAuth(root, { onSignedIn, mode: initialMode = 'login' }) {
  let mode = initialMode;

  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'auth-error' });
  const username = h('input', {
    id: 'auth-username', name: 'username', autocomplete: 'username', required: true,
    minlength: 3, maxlength: 32, autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'auth-password', name: 'password', type: 'password', required: true, minlength: 8, maxlength: 128,
  });
  const displayName = h('input', { id: 'auth-display-name', name: 'displayName', autocomplete: 'nickname', maxlength: 64 });
  const displayRow = h('div', { class: 'field' },
    h('label', { for: 'auth-display-name' }, 'Display name ', h('span', { class: 'hint' }, '(optional)')),
    displayName);
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'auth-submit' });
  const heading = h('h1', { id: 'auth-heading' });
  const switchText = h('span');
  const switchButton = h('button', { type: 'button', class: 'link', 'data-testid': 'auth-switch' });

  const form = h('form', { class: 'auth-form', 'aria-labelledby': 'auth-heading', novalidate: true },
    heading,
    h('div', { class: 'field' }, h('label', { for: 'auth-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'auth-password' }, 'Password'), password),
    displayRow,
    error,
    submit,
    h('p', { class: 'switch' }, switchText, ' ', switchButton));

  function update() {
    const register = mode === 'register';
    heading.textContent = register ? 'Create your Parley account' : 'Sign in to Parley';
    submit.textContent = register ? 'Create account' : 'Sign in';
    switchText.textContent = register ? 'Already have an account?' : 'New here?';
    switchButton.textContent = register ? 'Sign in' : 'Create an account';
    displayRow.hidden = !register;
    password.autocomplete = register ? 'new-password' : 'current-password';
    error.textContent = '';
  }

  switchButton.addEventListener('click', () => {
    mode = mode === 'register' ? 'login' : 'register';
    update();
    username.focus();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const values = {
      username: username.value.trim(),
      password: password.value,
      displayName: displayName.value.trim(),
    };
    if (!values.username || !values.password) {
      error.textContent = 'Enter a username and a password.';
      (values.username ? password : username).focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const result = mode === 'register' ? await api.register(values) : await api.login(values);
      onSignedIn(result.user);
    } catch (err) {
      error.textContent = MESSAGES[err.code] || err.message || 'Something went wrong.';
      password.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  update();
  root.replaceChildren(h('main', { class: 'auth' },
    h('div', { class: 'brand', 'aria-hidden': 'true' }, 'Parley'),
    form));
  username.focus();
}
