// Generates tests/vectors.json with AWS's own Cognito client,
// amazon-cognito-identity-js (pinned in tools/npm), so the Rust SRP is checked
// against the implementation real Cognito users run in their browsers.
//
//   NODE_PATH=tools/npm/node_modules node crates/ferry-srp/tests/make_vectors.js > crates/ferry-srp/tests/vectors.json
//
// The client's `a` is fixed per vector (the library draws it at random); the
// server's B and salt come from fixed `b` and salt bytes with the same group.
'use strict';
const crypto = require('crypto');
const AuthenticationHelper = require('amazon-cognito-identity-js/lib/AuthenticationHelper').default;
const BigInteger = require('amazon-cognito-identity-js/lib/BigInteger').default;
const { Sha256 } = require('@aws-crypto/sha256-js');

function bytes(seed, n) {
  let out = Buffer.alloc(0);
  for (let i = 0; out.length < n; i++) {
    out = Buffer.concat([out, crypto.createHash('sha256').update(`${seed}/${i}`).digest()]);
  }
  return out.subarray(0, n);
}

function modPow(base, exp, mod) {
  return new Promise((resolve, reject) =>
    base.modPow(exp, mod, (err, r) => (err ? reject(err) : resolve(r))));
}

function key(helper, user, password, B, salt) {
  return new Promise((resolve, reject) =>
    helper.getPasswordAuthenticationKey(user, password, B, salt, (err, k) => (err ? reject(err) : resolve(k))));
}

async function vector(name, poolName, user, password, aHex, saltHex, bHex, timestamp) {
  const helper = new AuthenticationHelper(poolName);
  helper.smallAValue = new BigInteger(aHex, 16);
  helper.largeAValue = null;
  await new Promise(r => helper.getLargeAValue(r));
  const A = helper.largeAValue;

  // The server's side, in the same arithmetic: v = g^x, B = k·v + g^b mod N.
  const salt = new BigInteger(saltHex, 16);
  const x = new BigInteger(helper.hexHash(helper.padHex(salt) + helper.hash(`${poolName}${user}:${password}`)), 16);
  const v = await modPow(helper.g, x, helper.N);
  const gb = await modPow(helper.g, new BigInteger(bHex, 16), helper.N);
  const B = helper.k.multiply(v).add(gb).mod(helper.N);

  const hkdf = await key(helper, user, password, B, salt);
  const secretBlock = bytes(`${name}/secret`, 64).toString('base64');
  const message = Buffer.concat([
    Buffer.from(poolName, 'utf8'), Buffer.from(user, 'utf8'),
    Buffer.from(secretBlock, 'base64'), Buffer.from(timestamp, 'utf8'),
  ]);
  const mac = new Sha256(hkdf);
  mac.update(message);
  const signature = Buffer.from(mac.digestSync()).toString('base64');
  return {
    name, poolName, user, password, a: aHex, b: bHex,
    salt: salt.toString(16), verifier: v.toString(16),
    srpA: A.toString(16), srpB: B.toString(16),
    aTopBitSet: /^[89a-f]/.test(helper.padHex(A).replace(/^00/, '')) && helper.padHex(A).startsWith('00'),
    saltTopBitSet: helper.padHex(salt).startsWith('00'),
    key: Buffer.from(hkdf).toString('hex'),
    secretBlock, timestamp, signature,
  };
}

(async () => {
  const out = [];
  const wanted = [[true, true], [true, false], [false, true], [false, false]];
  for (const [aTop, saltTop] of wanted) {
    // Walk seeds until A and the salt have the wanted top bits.
    for (let seed = 0; ; seed++) {
      const name = `a${aTop ? 1 : 0}-s${saltTop ? 1 : 0}-${seed}`;
      const aHex = bytes(`${name}/a`, 128).toString('hex');
      const saltBuf = bytes(`${name}/salt`, 16);
      if (((saltBuf[0] & 0x80) !== 0) !== saltTop) continue;
      const v = await vector(name, 'ferry', `user-${seed}`, 'Correct-Horse-1!', aHex,
        saltBuf.toString('hex'), bytes(`${name}/b`, 128).toString('hex'), 'Tue Mar 3 09:05:07 UTC 2026');
      if (v.aTopBitSet !== aTop) continue;
      out.push(v);
      break;
    }
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
})();
