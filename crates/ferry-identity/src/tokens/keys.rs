//! Signing and checking the JWTs the identity provider issues, as Cognito
//! issues them: RS256, one key for id tokens and another for access tokens,
//! each with its own `kid`, published as a JWKS.
//!
//! The keys are generated on first start and kept in the data directory, so
//! tokens stay valid across restarts.

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Which token a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// The id token (who the user is).
    Id,
    /// The access token (what the bearer may do).
    Access,
}

impl TokenUse {
    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Access => "access",
        }
    }
}

struct Key {
    kid: String,
    signing: SigningKey<Sha256>,
    verifying: VerifyingKey<Sha256>,
    public: RsaPublicKey,
}

impl Key {
    fn load_or_create(dir: &Path, usage: TokenUse) -> anyhow::Result<Self> {
        let path = dir.join(format!("{}-signing-key.pem", usage.name()));
        let private = if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            RsaPrivateKey::from_pkcs8_pem(&pem)
                .with_context(|| format!("reading {}", path.display()))?
        } else {
            let key = RsaPrivateKey::new(&mut rand_core::OsRng, 2048)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            // Written whole, then renamed, so a crash never leaves half a key.
            let partial = path.with_extension("pem.partial");
            write_private(&partial, pem.as_bytes())?;
            std::fs::rename(&partial, &path)?;
            key
        };
        let public = private.to_public_key();
        // The kid is a digest of the public key, so it changes with the key.
        let digest = Sha256::digest(public.n().to_bytes_be());
        let kid = B64URL.encode(&digest[..16]);
        Ok(Self {
            kid,
            signing: SigningKey::new(private),
            verifying: VerifyingKey::new(public.clone()),
            public,
        })
    }

    fn jwk(&self) -> Value {
        json!({
            "alg": "RS256",
            "e": B64URL.encode(self.public.e().to_bytes_be()),
            "kid": self.kid,
            "kty": "RSA",
            "n": B64URL.encode(self.public.n().to_bytes_be()),
            "use": "sig",
        })
    }
}

/// Writes a secret file readable by its owner only, and syncs it.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The identity provider's two signing keys.
pub struct TokenKeys {
    id: Key,
    access: Key,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("id_kid", &self.id.kid)
            .field("access_kid", &self.access.kid)
            .finish()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the token is malformed")]
    Malformed,
    /// Not RS256 with one of our kids, or the signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
}

impl TokenKeys {
    /// Loads the keys from `dir`, generating them on first start.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            id: Key::load_or_create(dir, TokenUse::Id)?,
            access: Key::load_or_create(dir, TokenUse::Access)?,
        })
    }

    fn key(&self, usage: TokenUse) -> &Key {
        match usage {
            TokenUse::Id => &self.id,
            TokenUse::Access => &self.access,
        }
    }

    /// Signs `claims` as an RS256 JWT with the key for `usage`.
    pub fn sign(&self, usage: TokenUse, claims: &Value) -> String {
        let key = self.key(usage);
        let header = json!({"alg": "RS256", "kid": key.kid});
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature: Signature = key.signing.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature.to_bytes()))
    }

    /// Checks the signature of a token we issued and returns its claims.
    /// Expiry, audience and use are for the caller to check.
    pub fn verify(&self, token: &str) -> Result<Value, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| -> Result<Value, TokenError> {
            let bytes = B64URL.decode(part).map_err(|_| TokenError::Malformed)?;
            serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
        };
        let header_json = decode(header)?;
        if header_json["alg"] != "RS256" {
            return Err(TokenError::BadSignature);
        }
        let key = [&self.id, &self.access]
            .into_iter()
            .find(|k| header_json["kid"] == k.kid.as_str())
            .ok_or(TokenError::BadSignature)?;
        let signature_bytes = B64URL
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let signature = Signature::try_from(signature_bytes.as_slice())
            .map_err(|_| TokenError::BadSignature)?;
        key.verifying
            .verify(format!("{header}.{claims}").as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        decode(claims)
    }

    /// The JWKS document: both public keys.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.id.jwk(), self.access.jwk()]})
    }
}
