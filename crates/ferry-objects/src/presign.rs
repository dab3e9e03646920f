//! SigV4 query presigning for S3, as AWS's SDK presigners do it: pure
//! computation over the credentials, the request and the caller's time. The
//! endpoint verifies these URLs with s3s; nothing here touches the network.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

/// S3 refuses presigned URLs that live longer than seven days.
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 60 * 60;

/// What SigV4 leaves unencoded: the unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One request to presign.
#[derive(Debug, Clone)]
pub struct PresignRequest<'a> {
    /// `GET` or `PUT`.
    pub method: &'a str,
    /// The URL path, unencoded (`/bucket/key`).
    pub path: &'a str,
    /// Query parameters besides the `X-Amz-*` ones (`partNumber`, `uploadId`,
    /// `response-content-disposition`), unencoded.
    pub query: Vec<(String, String)>,
    /// Headers to sign besides `host`, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The signing time.
    pub now: OffsetDateTime,
    /// Seconds the URL stays valid (clamped to seven days).
    pub expires_secs: u64,
}

/// The signer's identity and scope.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Region of the credential scope.
    pub region: String,
    /// `scheme://authority` (and an optional base path) the URL starts with.
    pub base_url: String,
}

/// Percent-encodes one URI component as SigV4 wants (`/` encoded too).
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Percent-encodes a path, keeping its slashes.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `20130524T000000Z` and `20130524`.
fn amz_dates(now: OffsetDateTime) -> (String, String) {
    let now = now.to_offset(time::UtcOffset::UTC);
    let long = now
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let short = long.get(..8).unwrap_or_default().to_owned();
    (long, short)
}

impl Signer {
    /// The `host` a browser sends for `base_url` (no default port).
    pub fn host(&self) -> String {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let scheme_https = self.base_url.starts_with("https://");
        match authority.rsplit_once(':') {
            Some((h, "80")) if !scheme_https => h.to_owned(),
            Some((h, "443")) if scheme_https => h.to_owned(),
            _ => authority.to_owned(),
        }
    }

    /// The base path of `base_url` without a trailing slash ("" for none).
    fn base_path(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        rest.find('/')
            .map_or("", |i| &rest[i..])
            .trim_end_matches('/')
    }

    /// The full presigned URL.
    pub fn presign(&self, req: &PresignRequest<'_>) -> String {
        let (amz_date, date) = amz_dates(req.now);
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let expires = req.expires_secs.clamp(1, MAX_EXPIRES_SECS);

        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        headers.push(("host".to_owned(), self.host()));
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");

        let mut query: Vec<(String, String)> = req
            .query
            .iter()
            .map(|(k, v)| (encode_component(k), encode_component(v)))
            .collect();
        for (k, v) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
            (
                "X-Amz-Credential",
                format!("{}/{scope}", self.access_key_id),
            ),
            ("X-Amz-Date", amz_date.clone()),
            ("X-Amz-Expires", expires.to_string()),
            ("X-Amz-SignedHeaders", signed_headers.clone()),
        ] {
            query.push((encode_component(k), encode_component(&v)));
        }
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");

        let path = format!("{}{}", self.base_path(), req.path);
        let canonical_uri = encode_path(&path);
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical_request = format!(
            "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD",
            req.method
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = [date.as_str(), self.region.as_str(), "s3", "aws4_request"]
            .iter()
            .fold(
                format!("AWS4{}", self.secret_access_key).into_bytes(),
                |key, part| hmac(&key, part.as_bytes()),
            );
        let signature = hex(&hmac(&key, string_to_sign.as_bytes()));

        let origin = self.base_url.trim_end_matches('/');
        let origin = origin.strip_suffix(self.base_path()).unwrap_or(origin);
        format!("{origin}{canonical_uri}?{canonical_query}&X-Amz-Signature={signature}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The example from AWS's "Authenticating Requests: Using Query
    /// Parameters" (GET /test.txt, virtual-hosted examplebucket).
    #[test]
    fn matches_the_aws_documentation_example() {
        let signer = Signer {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            base_url: "https://examplebucket.s3.amazonaws.com".into(),
        };
        let url = signer.presign(&PresignRequest {
            method: "GET",
            path: "/test.txt",
            query: vec![],
            headers: vec![],
            now: OffsetDateTime::from_unix_timestamp(1_369_353_600).unwrap(),
            expires_secs: 86_400,
        });
        assert!(
            url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"),
            "{url}"
        );
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }

    #[test]
    fn host_drops_default_ports_only() {
        let mut s = Signer {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            region: String::new(),
            base_url: "http://127.0.0.1:8080".into(),
        };
        assert_eq!(s.host(), "127.0.0.1:8080");
        s.base_url = "http://localhost:80/".into();
        assert_eq!(s.host(), "localhost");
        s.base_url = "https://files.example.com:443/s3".into();
        assert_eq!(s.host(), "files.example.com");
        assert_eq!(s.base_path(), "/s3");
    }
}
