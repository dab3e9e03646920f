//! The client's runtime configuration: what `/config.json` holds.
//!
//! One browser build runs against AWS and against the local stack; only this
//! document differs. `ferry-server` serves one pointing at itself; on AWS it
//! is written from the stack's outputs.

use serde::{Deserialize, Serialize};

/// How the browser signs people in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Ferry's own form; the password is proved with SRP and never sent.
    #[default]
    Srp,
    /// Redirect to the hosted UI (single sign-on), authorization code + PKCE.
    Hosted,
}

/// Where the browser keeps a session's tokens between page loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenStorage {
    /// `sessionStorage`: survives a reload, not a closed tab. The default.
    #[default]
    Session,
    /// `localStorage`: survives closing the browser. Only when configured.
    Local,
    /// Memory only: a reload signs out.
    Memory,
}

/// Upload tuning the server suggests to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct UploadSettings {
    /// Files at least this large go up in parts.
    pub multipart_threshold_bytes: u64,
    /// Parts of one file in flight at once.
    pub parts_in_flight: u32,
    /// Files uploading at once.
    pub files_in_flight: u32,
    /// The largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Whether parts, and files sent in one PUT, carry a signed SHA-256
    /// the store checks.
    pub checksums: bool,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            multipart_threshold_bytes: 64 * 1024 * 1024,
            parts_in_flight: 4,
            files_in_flight: 3,
            max_file_bytes: 5 * 1024 * 1024 * 1024 * 1024,
            checksums: true,
        }
    }
}

/// Everything the browser needs to find its backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The Cognito user pool id, `{region}_{id}`.
    pub user_pool_id: String,
    /// The app client id (a public client, no secret).
    pub user_pool_client_id: String,
    /// The Cognito endpoint; defaults to `https://cognito-idp.{region}.amazonaws.com/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_endpoint: Option<String>,
    /// The base URL of the command and query API.
    pub api_url: String,
    /// The WebSocket URL for live events.
    pub websocket_url: String,
    /// How people sign in.
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// The hosted UI's base URL, needed when `authMode` is `hosted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_ui_url: Option<String>,
    /// Where tokens are kept (`session` unless an embedder asks otherwise).
    #[serde(default)]
    pub token_storage: TokenStorage,
    /// Upload tuning.
    #[serde(default)]
    pub upload: UploadSettings,
    /// A short label shown in the page footer, e.g. `local` or `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// Why a configuration can't be used. The text is written for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is empty.
    #[error("the setting `{0}` is empty")]
    Missing(&'static str),
    /// A URL setting is not an absolute URL of the expected scheme.
    #[error("the setting `{name}` must start with {expected}, but is `{value}`")]
    BadUrl {
        /// The setting.
        name: &'static str,
        /// The schemes allowed.
        expected: &'static str,
        /// What it was.
        value: String,
    },
    /// The user pool id does not have the `{region}_{id}` form.
    #[error("the user pool id `{0}` is not of the form `region_id`")]
    BadPoolId(String),
    /// Hosted sign-in is chosen but no hosted UI URL is given.
    #[error("`authMode` is `hosted` but `hostedUiUrl` is not set")]
    HostedWithoutUrl,
}

impl ClientConfig {
    /// Checks the settings make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("region", &self.region),
            ("userPoolId", &self.user_pool_id),
            ("userPoolClientId", &self.user_pool_client_id),
            ("apiUrl", &self.api_url),
            ("websocketUrl", &self.websocket_url),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Missing(name));
            }
        }
        check_url(
            "apiUrl",
            &self.api_url,
            &["http://", "https://"],
            "http:// or https://",
        )?;
        check_url(
            "websocketUrl",
            &self.websocket_url,
            &["ws://", "wss://"],
            "ws:// or wss://",
        )?;
        if let Some(endpoint) = &self.identity_endpoint {
            check_url(
                "identityEndpoint",
                endpoint,
                &["http://", "https://"],
                "http:// or https://",
            )?;
        }
        match self.user_pool_id.split_once('_') {
            Some((region, id)) if !region.is_empty() && !id.is_empty() => {}
            _ => return Err(ConfigError::BadPoolId(self.user_pool_id.clone())),
        }
        if self.auth_mode == AuthMode::Hosted {
            let url = self
                .hosted_ui_url
                .as_deref()
                .ok_or(ConfigError::HostedWithoutUrl)?;
            check_url(
                "hostedUiUrl",
                url,
                &["http://", "https://"],
                "http:// or https://",
            )?;
        }
        Ok(())
    }

    /// The Cognito endpoint to call: the override, or AWS's regional one.
    pub fn identity_endpoint(&self) -> String {
        self.identity_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://cognito-idp.{}.amazonaws.com/", self.region))
    }

    /// The pool name used in SRP: the part of the pool id after `_`.
    pub fn pool_name(&self) -> &str {
        self.user_pool_id
            .split_once('_')
            .map_or(self.user_pool_id.as_str(), |(_, name)| name)
    }
}

fn check_url(
    name: &'static str,
    value: &str,
    schemes: &[&str],
    expected: &'static str,
) -> Result<(), ConfigError> {
    let ok = schemes
        .iter()
        .any(|scheme| value.len() > scheme.len() && value.starts_with(scheme));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadUrl {
            name,
            expected,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> ClientConfig {
        ClientConfig {
            region: "local-1".into(),
            user_pool_id: "local-1_ferry".into(),
            user_pool_client_id: "ferryweb".into(),
            identity_endpoint: Some("http://127.0.0.1:8080/".into()),
            api_url: "http://127.0.0.1:8080/api".into(),
            websocket_url: "ws://127.0.0.1:8080/ws".into(),
            auth_mode: AuthMode::Srp,
            hosted_ui_url: None,
            token_storage: TokenStorage::Session,
            upload: UploadSettings::default(),
            environment: Some("local".into()),
        }
    }

    #[test]
    fn a_local_config_is_valid_and_round_trips() {
        let config = local();
        config.validate().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"userPoolId\":\"local-1_ferry\""));
        assert_eq!(serde_json::from_str::<ClientConfig>(&json).unwrap(), config);
        assert_eq!(config.pool_name(), "ferry");
    }

    #[test]
    fn missing_upload_settings_take_defaults() {
        let json = r#"{"region":"eu-west-1","userPoolId":"eu-west-1_Ab12","userPoolClientId":"c",
            "apiUrl":"https://api.example.com","websocketUrl":"wss://ws.example.com"}"#;
        let config: ClientConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.upload, UploadSettings::default());
        assert_eq!(config.auth_mode, AuthMode::Srp);
        assert_eq!(config.token_storage, TokenStorage::Session);
        let local: ClientConfig =
            serde_json::from_str(&json.replace('}', r#","tokenStorage":"local"}"#)).unwrap();
        assert_eq!(local.token_storage, TokenStorage::Local);
        assert_eq!(
            config.identity_endpoint(),
            "https://cognito-idp.eu-west-1.amazonaws.com/"
        );
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let mut config = local();
        config.api_url = "ftp://x".into();
        assert!(matches!(
            config.validate(),
            Err(ConfigError::BadUrl { name: "apiUrl", .. })
        ));
        let mut config = local();
        config.websocket_url = "http://x".into();
        assert!(matches!(
            config.validate(),
            Err(ConfigError::BadUrl {
                name: "websocketUrl",
                ..
            })
        ));
        let mut config = local();
        config.user_pool_id = "nopool".into();
        assert_eq!(
            config.validate(),
            Err(ConfigError::BadPoolId("nopool".into()))
        );
        let mut config = local();
        config.region = " ".into();
        assert_eq!(config.validate(), Err(ConfigError::Missing("region")));
        let mut config = local();
        config.auth_mode = AuthMode::Hosted;
        assert_eq!(config.validate(), Err(ConfigError::HostedWithoutUrl));
    }
}
