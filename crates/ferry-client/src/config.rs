//! Where the client's settings come from: the attributes of its
//! `<ferry-files>` element, or the config document they point at.
//!
//! Attributes win so a portal can embed Ferry with no extra request:
//! `api-url`, `websocket-url`, `region`, `user-pool-id`,
//! `user-pool-client-id`, and optionally `identity-endpoint`, `auth-mode`
//! (`srp` or `hosted`), `hosted-ui-url`, `token-storage` (`session`,
//! `local` or `memory`), `environment`. Without `api-url`, the settings are
//! fetched from `config-url` (default `/config.json`).

use ferry_protocol::config::TokenStorage;
use ferry_protocol::{AuthMode, ClientConfig, ConfigError, UploadSettings};

/// The config URL used when the mount element names none.
pub const DEFAULT_CONFIG_URL: &str = "/config.json";

/// Where the settings come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// Fully given by attributes (or already fetched).
    Inline(Box<ClientConfig>),
    /// To be fetched from this URL.
    Url(String),
    /// Attributes were given but don't make a usable config.
    Invalid(String),
}

/// Reads the settings' source from the `<ferry-files>` element's attributes
/// (`api-url`, `region`, …, or `config-url`: the names of the config
/// document's fields in kebab case, without a `data-` prefix).
pub fn source_from_attributes(attribute: impl Fn(&str) -> Option<String>) -> ConfigSource {
    let get = |name: &str| attribute(name).filter(|v| !v.trim().is_empty());
    let Some(api_url) = get("api-url") else {
        return ConfigSource::Url(
            get("config-url").unwrap_or_else(|| DEFAULT_CONFIG_URL.to_owned()),
        );
    };
    let auth_mode = match get("auth-mode").as_deref() {
        None | Some("srp") => AuthMode::Srp,
        Some("hosted") => AuthMode::Hosted,
        Some(other) => {
            return ConfigSource::Invalid(format!(
                "the setting `auth-mode` must be `srp` or `hosted`, but is `{other}`"
            ));
        }
    };
    let token_storage = match get("token-storage").as_deref() {
        None | Some("session") => TokenStorage::Session,
        Some("local") => TokenStorage::Local,
        Some("memory") => TokenStorage::Memory,
        Some(other) => {
            return ConfigSource::Invalid(format!(
                "the setting `token-storage` must be `session`, `local` or `memory`, but is `{other}`"
            ));
        }
    };
    let config = ClientConfig {
        region: get("region").unwrap_or_default(),
        user_pool_id: get("user-pool-id").unwrap_or_default(),
        user_pool_client_id: get("user-pool-client-id").unwrap_or_default(),
        identity_endpoint: get("identity-endpoint"),
        api_url,
        websocket_url: get("websocket-url").unwrap_or_default(),
        auth_mode,
        hosted_ui_url: get("hosted-ui-url"),
        token_storage,
        upload: UploadSettings::default(),
        environment: get("environment"),
    };
    match config.validate() {
        Ok(()) => ConfigSource::Inline(Box::new(config)),
        Err(e) => ConfigSource::Invalid(e.to_string()),
    }
}

/// Why the settings could not be loaded. The text is shown on the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The request did not get an answer.
    #[error(
        "Ferry couldn't reach its settings at {url}. Check your connection and reload the page."
    )]
    Unreachable {
        /// The config URL.
        url: String,
    },
    /// The server answered with an error status.
    #[error("Ferry's settings at {url} are unavailable (HTTP {status}).")]
    Status {
        /// The config URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The document is not a valid config.
    #[error("Ferry's settings at {url} are not valid: {reason}.")]
    Invalid {
        /// The config URL, or `the page` for attributes.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses and checks a fetched config document.
pub fn parse_config(url: &str, body: &str) -> Result<ClientConfig, LoadError> {
    let invalid = |reason: String| LoadError::Invalid {
        url: url.to_owned(),
        reason,
    };
    let config: ClientConfig = serde_json::from_str(body).map_err(|e| invalid(e.to_string()))?;
    config
        .validate()
        .map_err(|e: ConfigError| invalid(e.to_string()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn attrs(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn without_attributes_the_default_url_is_fetched() {
        assert_eq!(
            source_from_attributes(attrs(&[])),
            ConfigSource::Url("/config.json".into())
        );
        assert_eq!(
            source_from_attributes(attrs(&[("config-url", "/portal/ferry.json")])),
            ConfigSource::Url("/portal/ferry.json".into())
        );
    }

    #[test]
    fn attributes_give_a_whole_config() {
        let source = source_from_attributes(attrs(&[
            ("api-url", "https://api.example.com"),
            ("websocket-url", "wss://ws.example.com"),
            ("region", "eu-west-1"),
            ("user-pool-id", "eu-west-1_AbC"),
            ("user-pool-client-id", "abc123"),
            ("auth-mode", "hosted"),
            ("hosted-ui-url", "https://auth.example.com"),
            ("token-storage", "local"),
        ]));
        let ConfigSource::Inline(config) = source else {
            panic!("expected an inline config, got {source:?}")
        };
        assert_eq!(config.auth_mode, AuthMode::Hosted);
        assert_eq!(config.token_storage, TokenStorage::Local);
        assert_eq!(config.pool_name(), "AbC");
    }

    #[test]
    fn incomplete_attributes_say_what_is_missing() {
        let source = source_from_attributes(attrs(&[("api-url", "https://api.example.com")]));
        assert_eq!(
            source,
            ConfigSource::Invalid("the setting `region` is empty".into())
        );
        let source = source_from_attributes(attrs(&[
            ("api-url", "https://api.example.com"),
            ("auth-mode", "password"),
        ]));
        assert!(matches!(source, ConfigSource::Invalid(m) if m.contains("`srp` or `hosted`")));
        let source = source_from_attributes(attrs(&[
            ("api-url", "https://api.example.com"),
            ("token-storage", "cookie"),
        ]));
        assert!(
            matches!(source, ConfigSource::Invalid(m) if m.contains("`session`, `local` or `memory`"))
        );
    }

    #[test]
    fn fetched_documents_are_parsed_and_checked() {
        let err = parse_config("/config.json", "{not json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Ferry's settings at /config.json are not valid")
        );
        let err = parse_config(
            "/c.json",
            r#"{"region":"r","userPoolId":"r_p","userPoolClientId":"c","apiUrl":"api","websocketUrl":"ws://x"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`apiUrl` must start with http:// or https://")
        );
    }
}
