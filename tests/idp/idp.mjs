// A real OpenID Connect provider (oidc-provider) on loopback for jitgate's
// end-to-end tests.  Usage:
//   node idp.mjs --port PORT --keys FILE [--rotate]
// FILE holds the provider's private JWKS (an RS256 and an ES256 key); it is
// created when missing and regenerated with --rotate, so a test can restart
// the provider with the same keys or with new ones.  Prints
// "ready ISSUER" on stdout once listening.
//
// Accounts (login_hint selects one in the scripted authorization code flow):
//   alice: groups [engineering]   bob: groups [sre]   carol: [security, sre]
// Clients: "cli" (public, authorization code + PKCE, redirect
// http://127.0.0.1/cb), "svc" and "billing-svc" (client_credentials,
// secret "<id>-secret", groups [automation]), "jitgate-web" (public native
// client for jitgate's browser sign-in and `jitgate login`: code + PKCE to
// http://127.0.0.1:ANY/auth/callback or /cb, device flow, refresh tokens)
// and "jitgate-conf" (the same with secret "conf-secret", no device flow).
// Without login_hint the login step is an HTML form (field "login"), as a
// person would see it; the device flow uses the provider's own pages.  Access tokens are JWTs for the resource
// urn:jitgate (RS256) or urn:jitgate:es (ES256), both with audience
// "jitgate" and a "groups" claim.
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '4455'));
const keysFile = opt('--keys', 'idp-keys.json');
const rotate = args.includes('--rotate');
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = {
  alice: ['engineering'],
  bob: ['sre'],
  carol: ['security', 'sre'],
};
const CLIENT_GROUPS = { svc: ['automation'], 'billing-svc': ['automation'] };

// Node 20 can deadlock when a GC destroys the key-generation job while a
// JWK export holds the lock of the key it shares with that job (seen in
// this suite: the provider hung before listening).  Generating PEM and
// exporting from a fresh, unshared KeyObject avoids the shared lock.
function jwkOf(type, options) {
  const { privateKey } = generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return createPrivateKey(privateKey).export({ format: 'jwk' });
}

function newKeys() {
  const tag = randomUUID().slice(0, 8);
  const rsa = jwkOf('rsa', { modulusLength: 2048 });
  const ec = jwkOf('ec', { namedCurve: 'P-256' });
  return {
    keys: [
      { ...rsa, kid: `rsa-${tag}`, alg: 'RS256', use: 'sig' },
      { ...ec, kid: `ec-${tag}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

let jwks;
if (!rotate && existsSync(keysFile)) {
  jwks = JSON.parse(readFileSync(keysFile, 'utf8'));
} else {
  jwks = newKeys();
  writeFileSync(keysFile, JSON.stringify(jwks), { mode: 0o600 });
}

const resource = (alg) => ({
  scope: 'api',
  audience: 'jitgate',
  accessTokenFormat: 'jwt',
  accessTokenTTL: 3600,
  jwt: { sign: { alg } },
});

const provider = new Provider(issuer, {
  jwks,
  clients: [
    {
      client_id: 'cli',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    {
      client_id: 'jitgate-web',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/auth/callback', 'http://127.0.0.1/cb'],
      grant_types: ['authorization_code', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    },
    {
      client_id: 'jitgate-conf',
      client_secret: 'conf-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['http://127.0.0.1/auth/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'svc',
      client_secret: 'svc-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      // same name as a static identity in e2e/test_oidc: jitgate must
      // refuse its tokens (subject namespaces, docs/identity.md)
      client_id: 'billing-svc',
      client_secret: 'billing-svc-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  scopes: ['openid', 'api', 'groups', 'offline_access'],
  claims: { openid: ['sub'], groups: ['groups'] },
  // ID tokens carry the claims of the scopes asked for (groups), as most
  // IdPs jitgate meets do
  conformIdTokenClaims: false,
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:jitgate',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator === 'urn:jitgate') return resource('RS256');
        if (indicator === 'urn:jitgate:es') return resource('ES256');
        throw new Error(`unknown resource ${indicator}`);
      },
    },
  },
  async findAccount(ctx, id) {
    if (!ACCOUNTS[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, groups: ACCOUNTS[id] };
      },
    };
  },
  async extraTokenClaims(ctx, token) {
    if (token.accountId) return { groups: ACCOUNTS[token.accountId] || [] };
    return { groups: CLIENT_GROUPS[token.clientId] || [] };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60 },
});

const readBody = (req) => new Promise((resolve, reject) => {
  let data = '';
  req.on('data', (c) => { data += c; if (data.length > 4096) reject(new Error('too big')); });
  req.on('end', () => resolve(new URLSearchParams(data)));
  req.on('error', reject);
});

const esc = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Interactions stand in for the login and consent pages: the account comes
// from login_hint or, without one, from a login form; consent grants what
// was asked for.
async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === 'login') {
      let id = params.login_hint;
      if (!id && req.method === 'GET') {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${esc(details.uid)}">`
          + '<label>Account <input name="login"></label><button type="submit">Sign in</button></form>');
        return;
      }
      if (!id) id = (await readBody(req)).get('login');
      if (!ACCOUNTS[id]) throw new Error(`unknown account ${id}`);
      result = { login: { accountId: id } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [ind, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
        grant.addResourceScope(ind, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  } catch (err) {
    res.statusCode = 400;
    res.end(String(err));
  }
}

// A slow IdP on demand, for jitgate's sign-in workers: after
// POST /__test/hold the next token request is held unanswered (and
// untouched) until POST /__test/release hands it to the provider.
// GET /__test/held says how many are held and still open, and, for each
// token request since, how many held ones were open when it arrived.
const held = [];
const arrivals = [];
let holdNext = false;
const openHeld = () => held.filter((h) => !h.closed).length;
function testControl(req, res) {
  const reply = (doc) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(doc));
  };
  if (req.url === '/__test/hold' && req.method === 'POST') {
    holdNext = true;
    return reply({ hold: true });
  }
  if (req.url === '/__test/release' && req.method === 'POST') {
    const open = openHeld();
    for (const h of held.splice(0)) if (!h.closed) callback(h.req, h.res);
    return reply({ released: open });
  }
  return reply({ held: openHeld(), arrivals });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__test/')) return testControl(req, res);
  if (req.url.startsWith('/interaction/')) return interaction(req, res);
  if (req.url === '/token' && req.method === 'POST') {
    arrivals.push(openHeld());
    if (holdNext) {
      holdNext = false;
      const h = { req, res, closed: false };
      res.on('close', () => { h.closed = true; });
      held.push(h);
      return undefined;
    }
  }
  return callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
