// The portal's own sign-in, with AWS's amazon-cognito-identity-js against
// the user pool Ferry uses, and the token provider the portal hands to
// every <ferry-files> element.
//
// The pool's settings come from Ferry's /config.json (`userPoolId`,
// `userPoolClientId`, `identityEndpoint`), so the portal and Ferry can't
// disagree on them. The library keeps the session in sessionStorage: the
// portal's, on the portal's origin. Ferry never sees the refresh token, only
// the ID and access tokens the provider answers with.

import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

/// The library's callbacks as a promise.
const promised = (start) =>
  new Promise((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value)));
  });

export class PortalSession {
  #pool;
  #storage = window.sessionStorage;
  #user = null;
  // One renewal at a time, shared by every element that asks for one
  // (several refused at once all get the same new tokens).
  #renewing = null;

  /// A session against the pool Ferry's `config` names.
  constructor(config) {
    this.#pool = new CognitoUserPool({
      UserPoolId: config.userPoolId,
      ClientId: config.userPoolClientId,
      // Cognito's own endpoint when the settings don't name one, as Ferry.
      endpoint: config.identityEndpoint,
      Storage: this.#storage,
    });
  }

  /// The username of whoever is signed in, or null: the session kept in
  /// this tab is used again when it is still valid or can be renewed.
  async restore() {
    const user = this.#pool.getCurrentUser();
    if (!user) {
      return null;
    }
    try {
      await promised((done) => user.getSession(done));
    } catch {
      return null;
    }
    this.#user = user;
    return user.getUsername();
  }

  /// Signs in with SRP (the library's default flow). `ask(what)` is called
  /// when the pool wants more: `{ kind: "newPassword" }` or `{ kind: "code" }`
  /// (an authenticator app's code); it answers with the value typed.
  async signIn(username, password, ask) {
    // The user keeps its tokens where the pool looks for them on the
    // next load (the library's default would be localStorage).
    const user = new CognitoUser({ Username: username, Pool: this.#pool, Storage: this.#storage });
    const details = new AuthenticationDetails({ Username: username, Password: password });
    await new Promise((resolve, reject) => {
      const callbacks = {
        onSuccess: resolve,
        onFailure: reject,
        newPasswordRequired: (attributes) => {
          // Attributes the pool sets itself can't be sent back.
          delete attributes.email_verified;
          delete attributes.email;
          ask({ kind: "newPassword" })
            .then((fresh) => user.completeNewPasswordChallenge(fresh, attributes, callbacks))
            .catch(reject);
        },
        totpRequired: () => {
          ask({ kind: "code" })
            .then((code) => user.sendMFACode(code, callbacks, "SOFTWARE_TOKEN_MFA"))
            .catch(reject);
        },
        mfaRequired: () => {
          ask({ kind: "code" })
            .then((code) => user.sendMFACode(code, callbacks))
            .catch(reject);
        },
      };
      user.authenticateUser(details, callbacks);
    });
    this.#user = user;
    return user.getUsername();
  }

  /// Signs out of the pool: the refresh token is revoked, and the tab
  /// forgets the session either way.
  async signOut() {
    const user = this.#user;
    this.#user = null;
    this.#renewing = null;
    if (!user) {
      return;
    }
    try {
      await promised((done) => user.signOut((error) => done(error)));
    } catch {
      // Revoking failed (offline?): the tokens are forgotten all the same.
      user.signOut();
    }
  }

  /// The tokens for Ferry: the session's while they are valid (the
  /// library renews them once they have expired), new ones when
  /// `forceRefresh` (Ferry's request or socket was refused). Throws when
  /// there is no session or it can't be renewed: Ferry then shows that the
  /// portal's session has ended.
  async tokens({ forceRefresh = false } = {}) {
    const session = forceRefresh ? await this.#renew() : await this.#session();
    return {
      idToken: session.getIdToken().getJwtToken(),
      accessToken: session.getAccessToken().getJwtToken(),
    };
  }

  /// The function Ferry's `tokenProvider` takes.
  get provider() {
    return (options) => this.tokens(options);
  }

  async #session() {
    const user = this.#user;
    if (!user) {
      throw new Error("Nobody is signed in to the portal.");
    }
    return promised((done) => user.getSession(done));
  }

  #renew() {
    this.#renewing ??= (async () => {
      try {
        const user = this.#user;
        const session = await this.#session();
        return await promised((done) => user.refreshSession(session.getRefreshToken(), done));
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }
}
