// AWS's own Cognito client, amazon-cognito-identity-js, against the local
// identity provider (ferry-identity). Run by
// crates/ferry-identity/tests/cognito_js.rs, which serves the provider and
// creates the user; this script prints one JSON line per step and exits
// non-zero on the first failure.
//
// Env: ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, TEMP_PASSWORD, NEW_PASSWORD, EMAIL.
import { createHmac } from 'node:crypto';
import cognito from 'amazon-cognito-identity-js';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const { CognitoUserPool, CognitoUser, AuthenticationDetails } = cognito;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing ${name}`);
  return value;
};
const pool = new CognitoUserPool({
  UserPoolId: env('POOL_ID'),
  ClientId: env('CLIENT_ID'),
  endpoint: env('ENDPOINT'),
});

function step(name, detail = {}) {
  console.log(JSON.stringify({ step: name, ...detail }));
}

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) from a base32 secret, `offset` steps from now.
function totp(base32, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const digest = createHmac('sha1', key).update(counter).digest();
  const o = digest[19] & 0xf;
  const code = (digest.readUInt32BE(o) & 0x7fffffff) % 1000000;
  return code.toString().padStart(6, '0');
}

function user(username) {
  return new CognitoUser({ Username: username, Pool: pool });
}

// Signs in with USER_SRP_AUTH (the library's default flow). When the server
// asks for a new password, answers with `newPassword` if one is given.
function signIn(username, password, newPassword) {
  const u = user(username);
  return new Promise((resolve, reject) => {
    u.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), {
      onSuccess: (session) => resolve({ user: u, session, changedPassword: false }),
      onFailure: (err) => reject(err),
      newPasswordRequired: (userAttributes) => {
        if (!newPassword) return reject(new Error('unexpected NEW_PASSWORD_REQUIRED'));
        step('new-password-required', { userAttributes });
        delete userAttributes.email_verified;
        delete userAttributes.email;
        u.completeNewPasswordChallenge(newPassword, userAttributes, {
          onSuccess: (session) => resolve({ user: u, session, changedPassword: true }),
          onFailure: (err) => reject(err),
        });
      },
    });
  });
}

async function expectFailure(promise, code, message) {
  try {
    await promise;
  } catch (err) {
    if (err.code !== code || (message && err.message !== message)) {
      throw new Error(`expected ${code} "${message}", got ${err.code} "${err.message}"`);
    }
    return err;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

const jwksCache = new Map();
async function verify(token, use) {
  const { iss } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  if (!jwksCache.has(iss)) jwksCache.set(iss, createRemoteJWKSet(new URL(`${iss}/.well-known/jwks.json`)));
  const options = { issuer: iss, algorithms: ['RS256'] };
  if (use === 'id') options.audience = env('CLIENT_ID');
  const { payload, protectedHeader } = await jwtVerify(token, jwksCache.get(iss), options);
  if (payload.token_use !== use) throw new Error(`token_use is ${payload.token_use}, not ${use}`);
  return { payload, kid: protectedHeader.kid };
}

async function main() {
  const username = env('USERNAME');

  // 1. First sign-in with the temporary password: SRP, then NEW_PASSWORD_REQUIRED.
  const first = await signIn(username, env('TEMP_PASSWORD'), env('NEW_PASSWORD'));
  if (!first.changedPassword) throw new Error('the temporary password was not replaced');
  step('signed-in-with-srp-after-new-password');

  // 2. The tokens verify against the JWKS, with separate keys and Cognito's claims.
  const id = await verify(first.session.getIdToken().getJwtToken(), 'id');
  const access = await verify(first.session.getAccessToken().getJwtToken(), 'access');
  if (id.kid === access.kid) throw new Error('id and access tokens share a kid');
  if (id.payload['cognito:username'] !== username) throw new Error('id token has the wrong cognito:username');
  if (id.payload.email !== env('EMAIL')) throw new Error('id token has the wrong email');
  if (access.payload.client_id !== env('CLIENT_ID') || access.payload.aud !== undefined) {
    throw new Error('access token must carry client_id and no aud');
  }
  if (access.payload.username !== username || access.payload.sub !== id.payload.sub) {
    throw new Error('access token has the wrong username or sub');
  }
  step('tokens-verified', { idKid: id.kid, accessKid: access.kid, sub: id.payload.sub });

  // 3. GetUser with the access token.
  const attributes = await new Promise((resolve, reject) =>
    first.user.getUserAttributes((err, result) => (err ? reject(err) : resolve(result))));
  const email = attributes.find((a) => a.getName() === 'email')?.getValue();
  if (email !== env('EMAIL')) throw new Error(`GetUser gave email ${email}`);
  step('get-user', { email });

  // 4. Refresh: new tokens from the refresh token, same sign-in (origin_jti).
  const refreshed = await new Promise((resolve, reject) =>
    first.user.refreshSession(first.session.getRefreshToken(), (err, s) => (err ? reject(err) : resolve(s))));
  const refreshedAccess = await verify(refreshed.getAccessToken().getJwtToken(), 'access');
  if (refreshedAccess.payload.origin_jti !== access.payload.origin_jti) throw new Error('refresh changed origin_jti');
  if (refreshedAccess.payload.jti === access.payload.jti) throw new Error('refresh reused the jti');
  step('refreshed');

  // 5. The new password now signs in directly; the old one no longer does.
  const second = await signIn(username, env('NEW_PASSWORD'));
  if (second.changedPassword) throw new Error('asked for a new password again');
  step('signed-in-with-new-password');
  await expectFailure(signIn(username, env('TEMP_PASSWORD')), 'NotAuthorizedException', 'Incorrect username or password.');
  step('old-password-refused');

  // 6. An authenticator app: associate, verify, prefer it; then sign-in asks
  //    for a code, refuses a wrong one and accepts the right one.
  const secret = await new Promise((resolve, reject) =>
    second.user.associateSoftwareToken({ associateSecretCode: resolve, onFailure: reject }));
  await new Promise((resolve, reject) =>
    second.user.verifySoftwareToken(totp(secret), 'Test phone', { onSuccess: resolve, onFailure: reject }));
  await new Promise((resolve, reject) =>
    second.user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, (err, r) => (err ? reject(err) : resolve(r))));
  step('totp-set-up');
  const mfaUser = user(username);
  const mfaSession = await new Promise((resolve, reject) => {
    let triedWrong = false;
    const callbacks = {
      onSuccess: resolve,
      onFailure: (err) => {
        if (!triedWrong || err.code !== 'CodeMismatchException') return reject(err);
        step('wrong-totp-refused');
        // The same challenge may be answered again. The next step's code is
        // within the allowed drift and not yet used (verify consumed this one).
        mfaUser.sendMFACode(totp(secret, 1), callbacks, 'SOFTWARE_TOKEN_MFA');
      },
      totpRequired: () => {
        triedWrong = true;
        const wrong = totp(secret, 1) === '000000' ? '111111' : '000000';
        mfaUser.sendMFACode(wrong, callbacks, 'SOFTWARE_TOKEN_MFA');
      },
    };
    mfaUser.authenticateUser(new AuthenticationDetails({ Username: username, Password: env('NEW_PASSWORD') }), callbacks);
  });
  await verify(mfaSession.getAccessToken().getJwtToken(), 'access');
  step('signed-in-with-totp');

  // 7. An unknown user is refused exactly like a wrong password.
  await expectFailure(signIn('nobody-by-this-name', env('NEW_PASSWORD')), 'NotAuthorizedException', 'Incorrect username or password.');
  step('unknown-user-refused-like-a-wrong-password');

  // 8. Global sign-out ends the session: its refresh token stops working.
  await new Promise((resolve, reject) =>
    second.user.globalSignOut({ onSuccess: resolve, onFailure: reject }));
  await expectFailure(
    new Promise((resolve, reject) =>
      second.user.refreshSession(second.session.getRefreshToken(), (err, s) => (err ? reject(err) : resolve(s)))),
    'NotAuthorizedException',
  );
  step('global-sign-out-revoked-refresh');
  console.log(JSON.stringify({ ok: true }));
}

main().catch((err) => {
  console.log(JSON.stringify({ ok: false, error: String(err && (err.stack || err.message || err)), code: err && err.code }));
  process.exit(1);
});
