// Obtains tokens from the test IdP (idp.mjs) the way real clients do.
//   node get-token.mjs ISSUER client [CLIENT_ID] [--resource urn:jitgate[:es]]
//   node get-token.mjs ISSUER code USER [--resource ...]
// "client": client_credentials for CLIENT_ID (default "svc", secret
// "<id>-secret").  "code": authorization
// code + PKCE for the public client "cli", logging in as USER.  Prints a
// JSON object {access_token, id_token?} on stdout.
import { createHash, randomBytes } from 'node:crypto';

const [issuer, flow, user, ...rest] = process.argv.slice(2);
const ri = rest.indexOf('--resource');
const resourceArgs = process.argv.slice(2);
const rIdx = resourceArgs.indexOf('--resource');
const resource = rIdx >= 0 ? resourceArgs[rIdx + 1] : 'urn:jitgate';
void ri;

const b64url = (buf) => buf.toString('base64url');

async function discovery() {
  const r = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!r.ok) throw new Error(`discovery: ${r.status}`);
  return r.json();
}

async function clientCredentials(meta) {
  const clientId = user && !user.startsWith('--') ? user : 'svc';
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', resource });
  const r = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`token: ${JSON.stringify(j)}`);
  return { access_token: j.access_token };
}

// Follows the browser side of the flow by hand: redirects and cookies.
async function authorizationCode(meta, login) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const redirectUri = 'http://127.0.0.1/cb';
  const jar = new Map();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = `${meta.authorization_endpoint}?${new URLSearchParams({
    client_id: 'cli',
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid api',
    resource,
    login_hint: login,
    state: b64url(randomBytes(8)),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    prompt: 'consent',
  })}`;
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(redirectUri)) {
      const u = new URL(url);
      const code = u.searchParams.get('code');
      if (!code) throw new Error(`no code: ${url}`);
      const r = await fetch(meta.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          client_id: 'cli',
          code_verifier: verifier,
          resource,
        }),
      });
      const j = await r.json();
      if (!r.ok) throw new Error(`token: ${JSON.stringify(j)}`);
      return { access_token: j.access_token, id_token: j.id_token };
    }
    const r = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader() } });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const loc = r.headers.get('location');
    if (!loc) throw new Error(`flow stopped at ${url}: ${r.status} ${await r.text()}`);
    url = new URL(loc, url).toString();
  }
  throw new Error('too many redirects');
}

const meta = await discovery();
const out = flow === 'client' ? await clientCredentials(meta) : await authorizationCode(meta, user);
process.stdout.write(`${JSON.stringify(out)}\n`);
