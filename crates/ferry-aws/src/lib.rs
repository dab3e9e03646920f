//! Ferry's ports on AWS's services, for the Lambda handlers: the same domain
//! (`ferry-core`) as the local stack, other adapters: the object store (S3,
//! with the SDK's presigner), the bus (EventBridge), the index (DynamoDB)
//! and the notifier (a feed in DynamoDB, pushes through API Gateway's
//! management API).
//!
//! Only this crate builds the AWS SDK: the local stack never links it.

pub mod dynamodb;
mod eventbridge;
pub mod notifier;
mod s3;

pub use dynamodb::DynamoIndex;
pub use eventbridge::EventBridgeBus;
pub use notifier::ApiGatewayNotifier;
pub use s3::S3ObjectStore;

use aws_sdk_s3::config::{Credentials, Region};

/// Where the AWS clients connect, and as whom: from the environment Lambda
/// sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), or given (tests against a stand-in).
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// The region.
    pub region: String,
    /// The credentials.
    pub credentials: Credentials,
    /// Another endpoint than AWS's (a stand-in such as moto in tests).
    pub endpoint_url: Option<String>,
}

impl AwsSettings {
    /// The settings Lambda's environment gives a function.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            region: var("AWS_REGION")?,
            credentials: Credentials::new(
                var("AWS_ACCESS_KEY_ID")?,
                var("AWS_SECRET_ACCESS_KEY")?,
                std::env::var("AWS_SESSION_TOKEN").ok(),
                None,
                "lambda-environment",
            ),
            endpoint_url: std::env::var("AWS_ENDPOINT_URL").ok(),
        })
    }

    /// The configuration every client starts from: region, credentials,
    /// endpoint (each service's own settings go on top).
    pub fn sdk_config(&self) -> aws_types::SdkConfig {
        let mut config = aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                self.credentials.clone(),
            ));
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        config.build()
    }
}
