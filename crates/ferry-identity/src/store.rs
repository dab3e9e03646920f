//! The user pool, kept in SQLite in the data directory.
//!
//! Only an SRP salt and verifier are stored for a password, never the password
//! or a plain hash of it. Refresh tokens are stored as SHA-256 digests, so a
//! copy of the database can't be used to sign in.

use anyhow::Context;
use ferry_srp::PasswordVerifier;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

/// A user's state, as the identity provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Signed in with a password they chose.
    Confirmed,
    /// Must choose a new password at the next sign-in (Cognito's
    /// `FORCE_CHANGE_PASSWORD`).
    ForceChangePassword,
    /// Signed up but has not yet confirmed with the code sent to them.
    Unconfirmed,
}

impl UserStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Self::Unconfirmed => "UNCONFIRMED",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "FORCE_CHANGE_PASSWORD" => Self::ForceChangePassword,
            "UNCONFIRMED" => Self::Unconfirmed,
            _ => Self::Confirmed,
        }
    }

    /// Cognito's name for the status.
    pub fn name(self) -> &'static str {
        self.as_str()
    }
}

/// One user of the pool.
#[derive(Debug, Clone)]
pub struct User {
    /// The name they sign in with.
    pub username: String,
    /// The stable id (`sub`).
    pub sub: String,
    /// Their e-mail address, if known.
    pub email: Option<String>,
    /// The SRP salt and verifier.
    pub verifier: PasswordVerifier,
    /// Whether they must choose a new password.
    pub status: UserStatus,
    /// Whether they may sign in at all.
    pub enabled: bool,
    /// Tokens issued before this Unix time are no longer accepted
    /// (`GlobalSignOut`, a disabled account, a password reset).
    pub tokens_valid_after: i64,
    /// Unix time the user was created.
    pub created_at: i64,
    /// Their authenticator app (TOTP), if any.
    pub totp: Totp,
}

/// A user's TOTP state.
#[derive(Debug, Clone, Default)]
pub struct Totp {
    /// The verified secret.
    pub secret: Option<Vec<u8>>,
    /// A secret handed out by AssociateSoftwareToken, not yet verified.
    pub pending: Option<Vec<u8>>,
    /// Whether sign-in asks for a code.
    pub enabled: bool,
    /// The last step a code was accepted for; older codes are refused.
    pub last_step: Option<i64>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Whose it is.
    pub username: String,
    /// The app client it was issued to.
    pub client_id: String,
    /// The `origin_jti` shared by the tokens of this sign-in.
    pub origin_jti: String,
    /// When the sign-in happened (the tokens' `auth_time`).
    pub auth_time: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// Whether it was revoked.
    pub revoked: bool,
    /// The scopes of a hosted-UI sign-in, which its access tokens keep;
    /// `None` for the user-pool API's (`aws.cognito.signin.user.admin`).
    pub scope: Option<String>,
}

/// The SQLite-backed user pool.
#[derive(Debug)]
pub struct UserStore {
    db: Mutex<Connection>,
}

impl UserStore {
    /// Opens (creating if needed) `identity.sqlite3` in `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("identity.sqlite3");
        let db = Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        // The pool is small and read by key: SQLite's default page cache
        // (2000 KiB) would only fill with refresh tokens as they are issued.
        db.pragma_update(None, "cache_size", -512)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS users (
                 username TEXT PRIMARY KEY,
                 sub TEXT NOT NULL UNIQUE,
                 email TEXT,
                 salt BLOB NOT NULL,
                 verifier BLOB NOT NULL,
                 status TEXT NOT NULL,
                 enabled INTEGER NOT NULL DEFAULT 1,
                 tokens_valid_after INTEGER NOT NULL DEFAULT 0,
                 created_at INTEGER NOT NULL,
                 totp_secret BLOB,
                 totp_pending BLOB,
                 totp_enabled INTEGER NOT NULL DEFAULT 0,
                 totp_last_step INTEGER
             );
             CREATE TABLE IF NOT EXISTS refresh_tokens (
                 digest BLOB PRIMARY KEY,
                 username TEXT NOT NULL REFERENCES users(username),
                 client_id TEXT NOT NULL,
                 origin_jti TEXT NOT NULL,
                 auth_time INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL,
                 revoked INTEGER NOT NULL DEFAULT 0,
                 scope TEXT
             );
             CREATE INDEX IF NOT EXISTS refresh_tokens_by_user ON refresh_tokens(username);
             CREATE TABLE IF NOT EXISTS codes (
                 username TEXT NOT NULL REFERENCES users(username),
                 purpose TEXT NOT NULL,
                 digest BLOB NOT NULL,
                 expires_at INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (username, purpose)
             );",
        )?;
        // Data directories from before hosted-UI scopes were kept.
        let has_scope = db
            .prepare("SELECT 1 FROM pragma_table_info('refresh_tokens') WHERE name = 'scope'")?
            .exists([])?;
        if !has_scope {
            db.execute("ALTER TABLE refresh_tokens ADD COLUMN scope TEXT", [])?;
        }
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // change is one statement or a transaction), so the poison is ignored.
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a user; fails if the name is taken.
    pub fn add(&self, user: &User) -> anyhow::Result<()> {
        self.db()
            .execute(
                "INSERT INTO users (username, sub, email, salt, verifier, status, enabled, tokens_valid_after, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    user.username,
                    user.sub,
                    user.email,
                    user.verifier.salt,
                    user.verifier.verifier,
                    user.status.as_str(),
                    user.enabled,
                    user.tokens_valid_after,
                    user.created_at
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    anyhow::anyhow!("a user named {:?} already exists", user.username)
                }
                other => other.into(),
            })?;
        Ok(())
    }

    /// The user with this name.
    pub fn get(&self, username: &str) -> anyhow::Result<Option<User>> {
        let query = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1");
        Ok(self
            .db()
            .query_row(&query, [username], user_from_row)
            .optional()?)
    }

    /// Every user, by name.
    pub fn list(&self) -> anyhow::Result<Vec<User>> {
        let db = self.db();
        let mut statement = db.prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))?;
        let users = statement
            .query_map([], user_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(users)
    }

    /// Sets a new password (and status), ending every existing session.
    pub fn set_password(
        &self,
        username: &str,
        verifier: &PasswordVerifier,
        status: UserStatus,
        now: i64,
    ) -> anyhow::Result<bool> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let changed = tx.execute(
            "UPDATE users SET salt = ?2, verifier = ?3, status = ?4 WHERE username = ?1",
            params![username, verifier.salt, verifier.verifier, status.as_str()],
        )?;
        end_sessions(&tx, username, now)?;
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Enables or disables a user; disabling ends every session.
    pub fn set_enabled(&self, username: &str, enabled: bool, now: i64) -> anyhow::Result<bool> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let changed = tx.execute(
            "UPDATE users SET enabled = ?2 WHERE username = ?1",
            params![username, enabled],
        )?;
        if !enabled {
            end_sessions(&tx, username, now)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Ends every session of a user (`GlobalSignOut`).
    pub fn sign_out_everywhere(&self, username: &str, now: i64) -> anyhow::Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        end_sessions(&tx, username, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps a new, unverified TOTP secret.
    pub fn set_totp_pending(&self, username: &str, secret: &[u8]) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE users SET totp_pending = ?2 WHERE username = ?1",
            params![username, secret],
        )?;
        Ok(())
    }

    /// Makes the pending secret the verified one, remembering `step` as used.
    pub fn confirm_totp(&self, username: &str, step: i64, enable: bool) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?2,
                              totp_enabled = totp_enabled OR ?3
             WHERE username = ?1 AND totp_pending IS NOT NULL",
            params![username, step, enable],
        )?;
        Ok(())
    }

    /// Turns the TOTP requirement on or off.
    pub fn set_totp_enabled(&self, username: &str, enabled: bool) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE users SET totp_enabled = ?2 WHERE username = ?1",
            params![username, enabled],
        )?;
        Ok(())
    }

    /// Records that a code for `step` was used; `false` if that step (or a
    /// later one) was already used, so a code works once even under races.
    pub fn use_totp_step(&self, username: &str, step: i64) -> anyhow::Result<bool> {
        Ok(self.db().execute(
            "UPDATE users SET totp_last_step = ?2
             WHERE username = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
            params![username, step],
        )? == 1)
    }

    /// Stores a one-time code's digest for `purpose`, replacing any earlier one.
    pub fn put_code(
        &self,
        username: &str,
        purpose: &str,
        digest: &[u8],
        expires_at: i64,
    ) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT OR REPLACE INTO codes (username, purpose, digest, expires_at, attempts) VALUES (?1, ?2, ?3, ?4, 0)",
            params![username, purpose, digest, expires_at],
        )?;
        Ok(())
    }

    /// The stored code for `purpose`: its digest, expiry and failed attempts.
    pub fn code(
        &self,
        username: &str,
        purpose: &str,
    ) -> anyhow::Result<Option<(Vec<u8>, i64, u32)>> {
        Ok(self
            .db()
            .query_row(
                "SELECT digest, expires_at, attempts FROM codes WHERE username = ?1 AND purpose = ?2",
                params![username, purpose],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?)
    }

    /// Counts a wrong guess at a code.
    pub fn code_failed(&self, username: &str, purpose: &str) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE codes SET attempts = attempts + 1 WHERE username = ?1 AND purpose = ?2",
            params![username, purpose],
        )?;
        Ok(())
    }

    /// Removes a code once used.
    pub fn delete_code(&self, username: &str, purpose: &str) -> anyhow::Result<()> {
        self.db().execute(
            "DELETE FROM codes WHERE username = ?1 AND purpose = ?2",
            params![username, purpose],
        )?;
        Ok(())
    }

    /// Marks a signed-up user as confirmed.
    pub fn confirm(&self, username: &str) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE users SET status = 'CONFIRMED' WHERE username = ?1 AND status = 'UNCONFIRMED'",
            [username],
        )?;
        Ok(())
    }

    /// Stores a refresh token by its digest.
    pub fn add_refresh_token(&self, digest: &[u8], grant: &RefreshGrant) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT INTO refresh_tokens (digest, username, client_id, origin_jti, auth_time, expires_at, revoked, scope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                digest,
                grant.username,
                grant.client_id,
                grant.origin_jti,
                grant.auth_time,
                grant.expires_at,
                grant.revoked,
                grant.scope
            ],
        )?;
        Ok(())
    }

    /// The refresh token with this digest.
    pub fn refresh_token(&self, digest: &[u8]) -> anyhow::Result<Option<RefreshGrant>> {
        Ok(self
            .db()
            .query_row(
                "SELECT username, client_id, origin_jti, auth_time, expires_at, revoked, scope
                 FROM refresh_tokens WHERE digest = ?1",
                [digest],
                |row| {
                    Ok(RefreshGrant {
                        username: row.get(0)?,
                        client_id: row.get(1)?,
                        origin_jti: row.get(2)?,
                        auth_time: row.get(3)?,
                        expires_at: row.get(4)?,
                        revoked: row.get(5)?,
                        scope: row.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets the scopes the access tokens of this refresh token carry.
    pub fn set_refresh_scope(&self, digest: &[u8], scope: &str) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE refresh_tokens SET scope = ?2 WHERE digest = ?1",
            params![digest, scope],
        )?;
        Ok(())
    }

    /// Revokes the refresh token with this digest; `false` if there is none.
    pub fn revoke_refresh_token(&self, digest: &[u8]) -> anyhow::Result<bool> {
        Ok(self.db().execute(
            "UPDATE refresh_tokens SET revoked = 1 WHERE digest = ?1",
            [digest],
        )? == 1)
    }
}

/// Ends every session of a user inside `tx`: tokens issued before `now` stop
/// working and every refresh token is revoked.
fn end_sessions(tx: &rusqlite::Transaction<'_>, username: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE users SET tokens_valid_after = ?2 WHERE username = ?1",
        params![username, now],
    )?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked = 1 WHERE username = ?1",
        [username],
    )?;
    Ok(())
}

/// The columns [`user_from_row`] reads, in its order.
const USER_COLUMNS: &str = "username, sub, email, salt, verifier, status, enabled, tokens_valid_after, \
                            created_at, totp_secret, totp_pending, totp_enabled, totp_last_step";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: row.get(0)?,
        sub: row.get(1)?,
        email: row.get(2)?,
        verifier: PasswordVerifier {
            salt: row.get(3)?,
            verifier: row.get(4)?,
        },
        status: UserStatus::parse(&row.get::<_, String>(5)?),
        enabled: row.get(6)?,
        tokens_valid_after: row.get(7)?,
        created_at: row.get(8)?,
        totp: Totp {
            secret: row.get(9)?,
            pending: row.get(10)?,
            enabled: row.get(11)?,
            last_step: row.get(12)?,
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

    use super::*;

    #[test]
    fn a_data_directory_from_before_scopes_keeps_its_refresh_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let old = Connection::open(dir.path().join("identity.sqlite3")).unwrap();
        old.execute_batch(
            "CREATE TABLE refresh_tokens (
                 digest BLOB PRIMARY KEY, username TEXT NOT NULL, client_id TEXT NOT NULL,
                 origin_jti TEXT NOT NULL, auth_time INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
             INSERT INTO refresh_tokens VALUES (x'01', 'alice', 'app', 'jti', 1, 2, 0);",
        )
        .unwrap();
        drop(old);

        let store = UserStore::open(dir.path()).unwrap();
        let grant = store.refresh_token(&[1]).unwrap().unwrap();
        assert_eq!((grant.username.as_str(), grant.scope), ("alice", None));
        store.set_refresh_scope(&[1], "openid email").unwrap();
        let grant = store.refresh_token(&[1]).unwrap().unwrap();
        assert_eq!(grant.scope.as_deref(), Some("openid email"));
        // Opening it again finds the column there.
        drop(store);
        UserStore::open(dir.path()).unwrap();
    }
}
