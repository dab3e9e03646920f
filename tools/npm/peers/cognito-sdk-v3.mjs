// AWS's SDK for JavaScript v3 (@aws-sdk/client-cognito-identity-provider)
// signs in against the local identity provider (ferry-identity) with USER_SRP_AUTH,
// sending exactly what AWS's API reference allows: InitiateAuth, then
// RespondToAuthChallenge for PASSWORD_VERIFIER with the challenge's
// responses and no Session (AWS's answer to InitiateAuth has none; the
// challenge is bound by SECRET_BLOCK). The SRP math is
// amazon-cognito-identity-js's AuthenticationHelper. Run by
// crates/ferry-identity/tests/cognito_js.rs; prints one JSON line per step
// and exits non-zero on the first failure.
//
// Env: ENDPOINT, POOL_ID, CLIENT_ID, USERNAME, PASSWORD.
import {
  CognitoIdentityProviderClient,
  GetUserCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import cognito from 'amazon-cognito-identity-js';
import { createHmac } from 'node:crypto';

const { AuthenticationHelper, DateHelper } = cognito;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing ${name}`);
  return value;
};
const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }));

const client = new CognitoIdentityProviderClient({
  region: 'local-1',
  endpoint: env('ENDPOINT'),
  // InitiateAuth and RespondToAuthChallenge are unsigned; nothing is
  // signed with these, they only keep the SDK from looking for keys.
  credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
});
const poolName = env('POOL_ID').split('_')[1];

const promised = (f) => new Promise((resolve, reject) => f((err, value) => (err ? reject(err) : resolve(value))));

async function signIn(username, password) {
  const helper = new AuthenticationHelper(poolName);
  // The library's big integers (its own class, not exported by name).
  const BigInteger = helper.N.constructor;
  const srpA = await promised((done) => helper.getLargeAValue(done));
  const started = await client.send(new InitiateAuthCommand({
    AuthFlow: 'USER_SRP_AUTH',
    ClientId: env('CLIENT_ID'),
    AuthParameters: { USERNAME: username, SRP_A: srpA.toString(16) },
  }));
  if (started.ChallengeName !== 'PASSWORD_VERIFIER') throw new Error(`challenge ${started.ChallengeName}`);
  const p = started.ChallengeParameters;
  if (p.USERNAME !== username || p.USER_ID_FOR_SRP !== username) {
    throw new Error(`the challenge names ${JSON.stringify(p)}`);
  }
  step('password-verifier', { session: started.Session ?? null });
  const key = await promised((done) => helper.getPasswordAuthenticationKey(
    p.USER_ID_FOR_SRP, password, new BigInteger(p.SRP_B, 16), new BigInteger(p.SALT, 16), done,
  ));
  const timestamp = new DateHelper().getNowString();
  const message = Buffer.concat([
    Buffer.from(poolName, 'utf8'),
    Buffer.from(p.USER_ID_FOR_SRP, 'utf8'),
    Buffer.from(p.SECRET_BLOCK, 'base64'),
    Buffer.from(timestamp, 'utf8'),
  ]);
  const signature = createHmac('sha256', Buffer.from(key)).update(message).digest('base64');
  // Exactly the documented responses, and no Session.
  return client.send(new RespondToAuthChallengeCommand({
    ChallengeName: 'PASSWORD_VERIFIER',
    ClientId: env('CLIENT_ID'),
    ChallengeResponses: {
      USERNAME: p.USERNAME,
      PASSWORD_CLAIM_SECRET_BLOCK: p.SECRET_BLOCK,
      TIMESTAMP: timestamp,
      PASSWORD_CLAIM_SIGNATURE: signature,
    },
  }));
}

try {
  const answer = await signIn(env('USERNAME'), env('PASSWORD'));
  const tokens = answer.AuthenticationResult;
  if (!tokens?.AccessToken || !tokens?.IdToken || !tokens?.RefreshToken) throw new Error('no tokens');
  step('signed-in-without-session');
  const me = await client.send(new GetUserCommand({ AccessToken: tokens.AccessToken }));
  if (me.Username !== env('USERNAME')) throw new Error(`GetUser says ${me.Username}`);
  step('get-user');
  try {
    await signIn(env('USERNAME'), 'Not-the-password-1');
    throw new Error('a wrong password signed in');
  } catch (err) {
    if (err.name !== 'NotAuthorizedException') throw err;
    step('wrong-password-refused', { message: err.message });
  }
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.error(err);
  process.exit(1);
}
