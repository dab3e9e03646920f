//! `bootstrap` on Lambda's `provided.al2023` runtime: which function this
//! instance is comes from `FERRY_FUNCTION` (`api`, `authorizer`, `live`,
//! `consumer`, `sweeper`, `config`); a consumer's rule from
//! `FERRY_CONSUMER` (`indexer`, `deleter`, `mover`, `notifier`,
//! `thumbnailer`: the names of `ferry_core::consumers::rules()`).

use ferry_aws::AwsSettings;
use ferry_lambda::authorizer::Authorizer;
use ferry_lambda::http::Http;
use ferry_lambda::{Env, Stack};
use ferry_protocol::Timestamp;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long an upload may sit idle before the sweep aborts it.
const UPLOAD_IDLE: Duration = Duration::from_secs(24 * 3600);

fn now() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_current_span(false)
        .without_time()
        .init();
    let function = std::env::var("FERRY_FUNCTION").unwrap_or_default();
    let aws = AwsSettings::from_env().map_err(Error::from)?;
    if function == "config" {
        let s3 = aws_sdk_s3::Client::new(&aws.sdk_config());
        let http = Http::new()?;
        return lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
            let (s3, http) = (s3.clone(), http.clone());
            async move {
                // A failure was answered to CloudFormation already.
                if let Err(error) = ferry_lambda::config::handle(&s3, &http, &event.payload).await {
                    tracing::error!(%error, "config.json");
                }
                Ok::<_, Error>(Value::Null)
            }
        }))
        .await;
    }
    let env = Env::from_env().map_err(Error::from)?;
    match function.as_str() {
        "api" => {
            let router = ferry_lambda::api::router(Stack::new(&aws, env));
            lambda_http::run(router).await
        }
        "authorizer" => {
            let authorizer = Arc::new(Authorizer::new(&env.issuer, env.client_ids.clone())?);
            lambda_runtime::run(service_fn(
                |event: LambdaEvent<
                    aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest,
                >| {
                    let authorizer = authorizer.clone();
                    async move {
                        let unix = now().get().unix_timestamp();
                        Ok::<_, Error>(authorizer.handle(&event.payload, unix).await)
                    }
                },
            ))
            .await
        }
        "live" => {
            let stack = Stack::new(&aws, env);
            lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
                let notifier = stack.notifier.clone();
                async move {
                    Ok::<_, Error>(
                        ferry_lambda::live::handle(&notifier, &event.payload, now()).await,
                    )
                }
            }))
            .await
        }
        "consumer" => {
            let rule = std::env::var("FERRY_CONSUMER").map_err(|_| "FERRY_CONSUMER is not set")?;
            // A name no rule has would fail every event into the
            // dead-letter queue: refuse it at start, where the log says why.
            let names: Vec<_> = ferry_core::consumers::rules()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            if !names.contains(&rule.as_str()) {
                return Err(
                    format!("FERRY_CONSUMER is {rule:?}: one of {}", names.join(", ")).into(),
                );
            }
            let stack = Stack::new(&aws, env);
            lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
                let (consumers, rule) = (stack.consumers.clone(), rule.clone());
                async move {
                    // An error makes Lambda try again, then the dead-letter
                    // queue keeps the event.
                    consumers
                        .deliver(&rule, &event.payload)
                        .await
                        .map_err(Error::from)?;
                    Ok::<_, Error>(Value::Null)
                }
            }))
            .await
        }
        "sweeper" => {
            let stack = Stack::new(&aws, env);
            lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
                let consumers = stack.consumers.clone();
                async move {
                    let report = consumers.sweep(UPLOAD_IDLE).await.map_err(Error::from)?;
                    tracing::info!(?report, "swept");
                    Ok::<_, Error>(Value::Null)
                }
            }))
            .await
        }
        other => Err(format!(
            "FERRY_FUNCTION is {other:?}: one of api, authorizer, live, consumer, sweeper, config"
        )
        .into()),
    }
}
