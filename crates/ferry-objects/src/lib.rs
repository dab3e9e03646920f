//! Ferry's local object store: an S3-compatible endpoint on disk, and the
//! [`ferry_core::ports::ObjectStore`] adapter over the same files.
//!
//! [`ObjectEndpoint`] answers S3 requests (path-style, one bucket) with
//! [s3s](https://docs.rs/s3s) verifying SigV4 (header and presigned query
//! auth) and s3s-fs storing the bytes; a thin wrapper adds the checks s3s-fs
//! lacks (a signed `x-amz-checksum-sha256` and the declared size are verified
//! before anything is stored, in single PUTs and parts), CORS for the web
//! origins, and S3's EventBridge notifications (`Object Created`, `Object
//! Deleted`). [`LocalObjectStore`] is the port adapter the domain uses:
//! presigning (pure SigV4) and the multipart, head, list and delete calls,
//! through the very same wrapper.
//!
//! Time comes from the injected `Clock`: signing-time skew and presigned
//! expiry are judged by it before s3s runs (s3s itself reads the system
//! clock, so its window is opened wide; only its expiry check, which can
//! refuse earlier but never later, still applies). Upload start times come
//! from it too.
//!
//! **Invariant:** a client sees only what it would see from S3: the same
//! signatures verify, the same errors come back as S3's XML, and every
//! stored write is on the bus before the client gets its answer (a bus
//! failure answers 503, and the object may stay for the sweep to reconcile).

#![warn(missing_docs)]

mod backend;
mod direct;
mod disk;
pub mod events;
pub mod presign;
mod sidecars;
mod staging;
mod store;

pub use store::LocalObjectStore;

use backend::FerryS3;
use events::RequestMeta;
use ferry_core::clock::Clock;
use ferry_core::ports::Bus;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use presign::Signer;
use s3s::auth::{S3Auth, SecretKey};
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How the object endpoint is set up.
#[derive(Debug, Clone)]
pub struct ObjectsConfig {
    /// The one bucket, e.g. `ferry`.
    pub bucket: String,
    /// The region in the credential scope, e.g. `local-1`.
    pub region: String,
    /// The access key id clients sign with (the aws CLI, boto3, the SDKs and
    /// this crate's presigner).
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The data directory; created when missing.
    pub root: PathBuf,
    /// The base URL browsers reach the endpoint at, e.g.
    /// `http://127.0.0.1:8080`. Objects are at `{public_url}/{bucket}/{key}`;
    /// presigned URLs start with it and sign its authority as `host`.
    pub public_url: String,
    /// The web origins allowed to call the endpoint from a browser (CORS).
    /// `*` allows any.
    pub allowed_origins: Vec<String>,
}

/// How far a signing time may be from the clock, as on S3 (15 minutes).
const MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// The methods a browser may use (preflight answer).
const CORS_METHODS: &str = "GET, PUT, HEAD, POST, DELETE";
/// The response headers a browser may read: the ETag of each part above all.
const CORS_EXPOSE: &str = "ETag, x-amz-checksum-sha256, x-amz-version-id, x-amz-request-id";

/// Headers on every answer of the endpoint, which shares the app's origin
/// on the local stack, so that no object can run in it:
///
/// - `nosniff`: the browser takes the type as given (the index's, or one
///   the endpoint made safe in `backend::served_safely`), never one read
///   from the bytes, and refuses a non-script type as a script;
/// - `sandbox` (without `allow-scripts`): an object opened as a document is
///   in an opaque origin and runs no script, whatever it is;
/// - `Cross-Origin-Resource-Policy: cross-origin`: a presigned URL is the
///   permission, and a portal on another origin (`docs/embedding.md`) shows
///   thumbnails and previews from it in `<img>` and `<video>`; `same-origin`
///   would break those and protect nothing the signature doesn't.
const CONTENT_SAFETY: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "sandbox"),
    ("cross-origin-resource-policy", "cross-origin"),
];

/// The one key pair the endpoint knows; any other key is
/// `InvalidAccessKeyId`, as on S3.
struct KeyAuth {
    access_key_id: String,
    secret: String,
}

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key_id {
            Ok(SecretKey::from(self.secret.as_str()))
        } else {
            Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ))
        }
    }
}

/// The S3 protocol service of the local stack.
pub struct ObjectEndpoint {
    config: ObjectsConfig,
    service: S3Service,
    backend: FerryS3,
    signer: Signer,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ObjectEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectEndpoint")
            .field("bucket", &self.config.bucket)
            .field("root", &self.config.root)
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

impl ObjectEndpoint {
    /// Opens the data directory (creating it and the bucket) and builds the
    /// service. Notifications go to `bus`; presigned expiry and upload times
    /// come from `clock`.
    pub fn new(
        config: ObjectsConfig,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            s3s::path::check_bucket_name(&config.bucket),
            "{:?} is not a valid S3 bucket name",
            config.bucket
        );
        anyhow::ensure!(
            config.public_url.starts_with("http://") || config.public_url.starts_with("https://"),
            "public_url must be an http(s) URL, not {:?}",
            config.public_url
        );
        let backend = FerryS3::new(
            &config.root,
            &config.bucket,
            &config.public_url,
            bus,
            clock.clone(),
        )?;
        let mut builder = S3ServiceBuilder::new(backend.clone());
        // s3s compares signing times with the system clock; `precheck` does
        // it with the injected one, so s3s's window is opened wide (its
        // expiry check still runs, and can only refuse earlier).
        let mut s3_config = S3Config::default();
        s3_config.presigned_url_max_skew_time_secs = 10 * 365 * 24 * 3600;
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(s3_config))));
        builder.set_auth(KeyAuth {
            access_key_id: config.access_key_id.clone(),
            secret: config.secret_access_key.clone(),
        });
        let signer = Signer {
            access_key_id: config.access_key_id.clone(),
            secret_access_key: config.secret_access_key.clone(),
            region: config.region.clone(),
            base_url: config.public_url.trim_end_matches('/').to_owned(),
        };
        Ok(Arc::new(Self {
            config,
            service: builder.build(),
            backend,
            signer,
            clock,
        }))
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ObjectsConfig {
        &self.config
    }

    /// Forgets the records of multipart uploads completed more than `keep`
    /// ago (by the injected clock); returns how many went. Run by the
    /// server's periodic sweep.
    pub async fn prune_completions(&self, keep: std::time::Duration) -> std::io::Result<usize> {
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        self.backend
            .prune_completions(self.clock.unix().saturating_sub(keep))
            .await
    }

    /// The `ObjectStore` adapter over this endpoint's files and signer.
    pub fn store(self: &Arc<Self>) -> Arc<LocalObjectStore> {
        Arc::new(LocalObjectStore::new(
            self.backend.clone(),
            self.signer.clone(),
            self.clock.clone(),
        ))
    }

    /// Answers one S3 request (path-style: `/{bucket}` and `/{bucket}/{key..}`,
    /// plus `GET /` ListBuckets), CORS preflights included. Never fails: every
    /// refusal is an S3 XML error response.
    pub async fn handle(
        &self,
        req: http::Request<axum::body::Body>,
    ) -> http::Response<axum::body::Body> {
        let request_id = events::new_request_id();
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let allowed_origin = origin.filter(|o| {
            self.config
                .allowed_origins
                .iter()
                .any(|a| a == "*" || a.trim_end_matches('/') == o)
        });

        let mut response = if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            self.preflight(&req, allowed_origin.as_deref(), &request_id)
        } else if let Some(refusal) = self.precheck(&req, &request_id) {
            refusal
        } else {
            let mut req = req;
            ignore_unreadable_range(&mut req);
            self.call_s3(req, &request_id).await
        };

        if response
            .extensions()
            .get::<backend::ObjectBytes>()
            .is_some()
        {
            serve_safely(response.headers_mut());
        }
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(HeaderName::from_static("x-amz-request-id"), v);
        }
        for (name, value) in CONTENT_SAFETY {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        if let Some(origin) = allowed_origin
            && let Ok(v) = HeaderValue::from_str(&origin)
        {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(CORS_EXPOSE),
            );
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        response
    }

    /// The CORS preflight, answered as S3 answers it from a bucket's CORS
    /// configuration: the allowed origin, methods and the asked headers, or
    /// 403 for anyone else.
    fn preflight(
        &self,
        req: &http::Request<axum::body::Body>,
        allowed_origin: Option<&str>,
        request_id: &str,
    ) -> http::Response<axum::body::Body> {
        let method_ok = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| ["GET", "PUT", "HEAD", "POST", "DELETE"].contains(&m));
        if allowed_origin.is_none() || !method_ok {
            return error_response(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                request_id,
            );
        }
        let mut builder = http::Response::builder()
            .status(StatusCode::OK)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS)
            .header(header::ACCESS_CONTROL_MAX_AGE, "3000")
            .header(
                header::VARY,
                "Access-Control-Request-Headers, Access-Control-Request-Method",
            );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            builder = builder.header(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        builder
            .body(axum::body::Body::empty())
            .unwrap_or_else(|_| http::Response::new(axum::body::Body::empty()))
    }

    /// Checks s3s can't make with the injected clock or before it reads the
    /// body: the signing time's skew (header auth) and presigned expiry and
    /// S3's seven-day limit, and ambiguous framing.
    fn precheck(
        &self,
        req: &http::Request<axum::body::Body>,
        request_id: &str,
    ) -> Option<http::Response<axum::body::Body>> {
        if req.headers().contains_key(header::TRANSFER_ENCODING)
            && req.headers().contains_key(header::CONTENT_LENGTH)
        {
            return Some(error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "A request may not carry both Transfer-Encoding and Content-Length.",
                request_id,
            ));
        }
        let amz_date = |s: &str| {
            time::PrimitiveDateTime::parse(
                s,
                time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
            )
            .ok()
            .map(time::PrimitiveDateTime::assume_utc)
        };
        let now = self.clock.now();
        let skewed = || {
            error_response(
                StatusCode::FORBIDDEN,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                request_id,
            )
        };
        let header_signed = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
        if header_signed
            && let Some(date) = req
                .headers()
                .get("x-amz-date")
                .and_then(|v| v.to_str().ok())
                .and_then(amz_date)
            && (now - date).abs() > MAX_SKEW
        {
            return Some(skewed());
        }
        let query = req.uri().query()?;
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name).then(|| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
        };
        param("X-Amz-Signature")?;
        let expires: i64 = param("X-Amz-Expires")?.parse().ok()?;
        if !(1..=presign::MAX_EXPIRES_SECS as i64).contains(&expires) {
            return Some(error_response(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                request_id,
            ));
        }
        let date = amz_date(&param("X-Amz-Date")?)?;
        if date - now > MAX_SKEW {
            return Some(skewed());
        }
        if now > date + time::Duration::seconds(expires) {
            return Some(error_response(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired",
                request_id,
            ));
        }
        None
    }

    async fn call_s3(
        &self,
        req: http::Request<axum::body::Body>,
        request_id: &str,
    ) -> http::Response<axum::body::Body> {
        let source_ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .or_else(|| req.extensions().get::<SocketAddr>().copied())
            .map_or_else(|| "127.0.0.1".to_owned(), |a| a.ip().to_string());
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(RequestMeta {
            request_id: request_id.to_owned(),
            source_ip,
        });
        let req = http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        match self.service.call(req).await {
            Ok(resp) => {
                // A client's mistake (a bad signature, an expired link) is
                // worth a warning; ERROR is for the server's own faults.
                let status = resp.status();
                if status.is_server_error() {
                    tracing::error!(%status, %method, %path, request_id, "the object endpoint failed");
                } else if status.is_client_error() {
                    tracing::warn!(%status, %method, %path, request_id, "the object endpoint refused a request");
                }
                resp.map(axum::body::Body::new)
            }
            Err(e) => {
                tracing::error!(error = ?e, "the S3 service failed");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    request_id,
                )
            }
        }
    }
}

/// Drops a GET's `Range` that isn't one byte range S3 reads (another
/// unit, several ranges, a malformed or backwards one): S3 ignores such a
/// header and answers the whole object, as RFC 9110 says, where s3s would
/// refuse it (400). A `Range` the request's signature covers stays (taking
/// it away would break the signature), and s3s answers it as it does.
fn ignore_unreadable_range(req: &mut http::Request<axum::body::Body>) {
    if req.method() != Method::GET {
        return;
    }
    let Some(range) = req.headers().get(header::RANGE) else {
        return;
    };
    if range
        .to_str()
        .is_ok_and(|r| s3s::dto::Range::parse(r).is_ok())
    {
        return;
    }
    let signed_in_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("SignedHeaders="))
        .is_some_and(|(_, rest)| {
            rest.split([',', ' '])
                .next()
                .unwrap_or_default()
                .split(';')
                .any(|h| h.eq_ignore_ascii_case("range"))
        });
    let signed_in_query = req.uri().query().is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split_once('=').is_some_and(|(k, v)| {
                k == "X-Amz-SignedHeaders"
                    && percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .split(';')
                        .any(|h| h.eq_ignore_ascii_case("range"))
            })
        })
    });
    if !signed_in_header && !signed_in_query {
        req.headers_mut().remove(header::RANGE);
    }
}

/// Rewrites a GET's `Content-Type` and `Content-Disposition` as
/// [`backend::served_safely`] says, once s3s has applied the object's own
/// and the request's `response-*` values: the last word on what a browser
/// is given.
fn serve_safely(headers: &mut http::HeaderMap) {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, disposition) = backend::served_safely(
        text(header::CONTENT_TYPE),
        text(header::CONTENT_DISPOSITION),
    );
    // Both were header values already, or are made of them; should one
    // not parse, the safe default stands in.
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(disposition) = disposition {
        let disposition =
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment"));
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
}

/// An S3 XML error body.
fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> http::Response<axum::body::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
        xml_escape(message)
    );
    http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| http::Response::new(axum::body::Body::empty()))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
