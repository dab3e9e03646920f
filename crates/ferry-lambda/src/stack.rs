//! What every function is configured with (its environment, as the SAM
//! template sets it) and the domain wired to the AWS adapters.

use ferry_aws::{ApiGatewayNotifier, AwsSettings, DynamoIndex, EventBridgeBus, S3ObjectStore};
use ferry_core::clock::SystemClock;
use ferry_core::ports::Thumbnailer;
use ferry_core::service::DEFAULT_PART_SIZE;
use ferry_core::{Consumers, FileSettings, Files};
use ferry_thumbnailer::EngineThumbnailer;
use std::sync::Arc;

/// A function's configuration.
#[derive(Debug, Clone)]
pub struct Env {
    /// The index table (`FERRY_FILES_TABLE`).
    pub files_table: String,
    /// The connections table (`FERRY_CONNECTIONS_TABLE`).
    pub connections_table: String,
    /// The files bucket (`FERRY_BUCKET`).
    pub bucket: String,
    /// Ferry's event bus (`FERRY_EVENT_BUS`).
    pub bus: String,
    /// The user pool (`FERRY_USER_POOL_ID`).
    pub user_pool_id: String,
    /// The app clients whose tokens are accepted
    /// (`FERRY_USER_POOL_CLIENT_ID`, comma-separated).
    pub client_ids: Vec<String>,
    /// The tokens' issuer: the pool's (`https://cognito-idp.{region}.
    /// amazonaws.com/{pool}`), unless `FERRY_ISSUER` says otherwise.
    pub issuer: String,
    /// The WebSocket API's management endpoint (`FERRY_LIVE_ENDPOINT`), for
    /// the functions that push.
    pub live_endpoint: Option<String>,
    /// The file service's tuning (`FERRY_MULTIPART_THRESHOLD_BYTES`,
    /// `FERRY_PART_SIZE_BYTES`, `FERRY_QUOTA_BYTES`, 0 for none) and
    /// retention (`FERRY_TRASH_DAYS`, `FERRY_KEEP_VERSIONS`,
    /// `FERRY_VERSION_DAYS`).
    pub files: FileSettings,
}

impl Env {
    /// From the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            match lookup(name).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(text) => text
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name} is not a number: {text}")),
            }
        };
        let user_pool_id = var("FERRY_USER_POOL_ID")?;
        let region = lookup("AWS_REGION")
            .or_else(|| user_pool_id.split_once('_').map(|(r, _)| r.to_owned()))
            .ok_or("AWS_REGION is not set")?;
        let issuer = lookup("FERRY_ISSUER")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}")
            });
        let mut files = FileSettings::default();
        if let Some(threshold) = number("FERRY_MULTIPART_THRESHOLD_BYTES")? {
            files.multipart_threshold = threshold;
        }
        files.part_size = number("FERRY_PART_SIZE_BYTES")?.unwrap_or(DEFAULT_PART_SIZE);
        files.quota_bytes = number("FERRY_QUOTA_BYTES")?.filter(|q| *q > 0);
        const DAY: u64 = 24 * 60 * 60;
        if let Some(days) = number("FERRY_TRASH_DAYS")? {
            files.retention.trash = std::time::Duration::from_secs(days.max(1) * DAY);
        }
        if let Some(keep) = number("FERRY_KEEP_VERSIONS")? {
            files.retention.keep_versions = u32::try_from(keep.min(1000)).unwrap_or(1000);
        }
        if let Some(days) = number("FERRY_VERSION_DAYS")? {
            files.retention.version_age = std::time::Duration::from_secs(days.max(1) * DAY);
        }
        Ok(Self {
            files_table: var("FERRY_FILES_TABLE")?,
            connections_table: var("FERRY_CONNECTIONS_TABLE")?,
            bucket: var("FERRY_BUCKET")?,
            bus: var("FERRY_EVENT_BUS")?,
            client_ids: var("FERRY_USER_POOL_CLIENT_ID")?
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
            user_pool_id,
            issuer,
            live_endpoint: lookup("FERRY_LIVE_ENDPOINT").filter(|v| !v.is_empty()),
            files,
        })
    }
}

/// The domain on the AWS adapters.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The file service (the API's).
    pub files: Files,
    /// The consumers and the sweep.
    pub consumers: Consumers,
    /// The feed and the connections.
    pub notifier: Arc<ApiGatewayNotifier>,
    /// The configuration.
    pub env: Env,
}

impl Stack {
    /// Wires the adapters for `env`.
    pub fn new(aws: &AwsSettings, env: Env) -> Self {
        let objects = Arc::new(S3ObjectStore::new(aws, &env.bucket));
        let index = Arc::new(DynamoIndex::new(aws, &env.files_table));
        let bus = Arc::new(EventBridgeBus::new(aws, &env.bus));
        let notifier = Arc::new(ApiGatewayNotifier::new(
            aws,
            &env.files_table,
            &env.connections_table,
            env.live_endpoint.as_deref(),
        ));
        let clock = Arc::new(SystemClock);
        // Every function gets the engine's port, though only the
        // thumbnailer's rule makes thumbnails: it costs nothing until
        // called, and the API asks it which files get thumbnails (one
        // still to come, or none at all).
        let thumbnailer: Arc<dyn Thumbnailer> = Arc::new(EngineThumbnailer::default());
        let files = Files::new(
            objects.clone(),
            index.clone(),
            bus.clone(),
            clock.clone(),
            env.files.clone(),
        )
        .with_thumbnailer(thumbnailer.clone());
        let consumers = Consumers::new(objects, index, bus, notifier.clone(), clock)
            .with_retention(env.files.retention)
            .with_thumbnailer(thumbnailer);
        Self {
            files,
            consumers,
            notifier,
            env,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 7] = [
        ("AWS_REGION", "eu-west-1"),
        ("FERRY_FILES_TABLE", "files"),
        ("FERRY_CONNECTIONS_TABLE", "connections"),
        ("FERRY_BUCKET", "bucket"),
        ("FERRY_EVENT_BUS", "bus"),
        ("FERRY_USER_POOL_ID", "eu-west-1_abc"),
        ("FERRY_USER_POOL_CLIENT_ID", "client1, client2"),
    ];

    #[test]
    fn the_template_s_environment_configures_a_function() {
        let mut vars = BASE.to_vec();
        vars.extend([
            ("FERRY_QUOTA_BYTES", "0"),
            ("FERRY_MULTIPART_THRESHOLD_BYTES", "1048576"),
            ("FERRY_TRASH_DAYS", "7"),
            ("FERRY_KEEP_VERSIONS", "3"),
        ]);
        let env = Env::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            env.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        assert_eq!(env.client_ids, ["client1", "client2"]);
        assert_eq!(env.files.quota_bytes, None);
        assert_eq!(env.files.multipart_threshold, 1_048_576);
        assert_eq!(env.files.part_size, DEFAULT_PART_SIZE);
        assert_eq!(env.live_endpoint, None);
        assert_eq!(env.files.retention.trash.as_secs(), 7 * 24 * 60 * 60);
        assert_eq!(env.files.retention.keep_versions, 3);
        assert_eq!(
            env.files.retention.version_age,
            ferry_core::model::Retention::default().version_age
        );
    }

    #[test]
    fn a_missing_or_malformed_setting_is_named() {
        let vars: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| *k != "FERRY_BUCKET")
            .copied()
            .collect();
        assert_eq!(
            Env::from_lookup(lookup(&vars)).unwrap_err(),
            "FERRY_BUCKET is not set"
        );
        let mut vars = BASE.to_vec();
        vars.push(("FERRY_QUOTA_BYTES", "lots"));
        assert_eq!(
            Env::from_lookup(lookup(&vars)).unwrap_err(),
            "FERRY_QUOTA_BYTES is not a number: lots"
        );
    }
}
