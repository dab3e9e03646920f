//! A small HTTPS client (hyper on rustls with the system's roots, as the AWS
//! SDK's own): the pool's JWKS, CloudFormation's response URL.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// One client, kept for the function's life (connections are reused).
#[derive(Debug, Clone)]
pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

impl Http {
    /// A client trusting the system's roots (plain HTTP allowed, for tests
    /// on loopback).
    pub fn new() -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// Sends `method url` with `body` and `headers`; answers the status and
    /// the body.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = hyper::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("{method} {url}: no answer in {TIMEOUT:?}"))?
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| format!("{method} {url}: the body took over {TIMEOUT:?}"))?
            .map_err(|e| format!("{method} {url}: {e}"))?
            .to_bytes()
            .to_vec();
        Ok((status, body))
    }

    /// `GET url`, expecting a `200`.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        match self.send("GET", url, &[], Vec::new()).await? {
            (200, body) => Ok(body),
            (status, _) => Err(format!("GET {url}: {status}")),
        }
    }
}
