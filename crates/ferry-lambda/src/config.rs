//! The custom resource that writes the web app's `config.json` into the web
//! bucket from the stack's values (`Custom::FerryWebConfig`), so the same
//! build serves any stack. CloudFormation waits for the answer PUT to the
//! request's presigned `ResponseURL`.

use crate::http::Http;
use aws_sdk_s3::primitives::ByteStream;
use ferry_protocol::{AuthMode, ClientConfig, TokenStorage, UploadSettings};
use serde_json::{Value, json};

/// The client configuration from the resource's properties.
pub fn client_config(properties: &Value) -> Result<ClientConfig, String> {
    let text = |name: &str| -> Result<String, String> {
        properties[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the property {name} is missing"))
    };
    let auth_mode = match properties["AuthMode"].as_str() {
        Some("hosted") => AuthMode::Hosted,
        _ => AuthMode::Srp,
    };
    let mut upload = UploadSettings::default();
    if let Some(threshold) = properties["MultipartThresholdBytes"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .or_else(|| properties["MultipartThresholdBytes"].as_u64())
    {
        upload.multipart_threshold_bytes = threshold;
    }
    let hosted = text("HostedUiUrl").ok().filter(|u| !u.is_empty());
    let config = ClientConfig {
        region: text("Region")?,
        user_pool_id: text("UserPoolId")?,
        user_pool_client_id: text("UserPoolClientId")?,
        api_url: format!("{}/api", text("ApiUrl")?.trim_end_matches('/')),
        websocket_url: text("WebSocketUrl")?,
        identity_endpoint: None,
        auth_mode,
        hosted_ui_url: hosted,
        token_storage: TokenStorage::default(),
        upload,
        environment: None,
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Handles one CloudFormation request: writes (`Create`, `Update`) or
/// removes (`Delete`) `config.json`, then answers at `ResponseURL`.
pub async fn handle(s3: &aws_sdk_s3::Client, http: &Http, request: &Value) -> Result<(), String> {
    let properties = &request["ResourceProperties"];
    let bucket = properties["Bucket"].as_str().unwrap_or_default().to_owned();
    let outcome: Result<(), String> = match request["RequestType"].as_str() {
        Some("Create" | "Update") => match client_config(properties) {
            Ok(config) => {
                let body = serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?;
                s3.put_object()
                    .bucket(&bucket)
                    .key("config.json")
                    .content_type("application/json")
                    .cache_control("no-cache")
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        format!(
                            "config.json: {}",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                        )
                    })
            }
            Err(error) => Err(error),
        },
        Some("Delete") => {
            // A bucket already gone (or never written) is nothing to undo.
            let _ = s3
                .delete_object()
                .bucket(&bucket)
                .key("config.json")
                .send()
                .await;
            Ok(())
        }
        other => Err(format!("unknown request type {other:?}")),
    };
    let answer = json!({
        "Status": if outcome.is_ok() { "SUCCESS" } else { "FAILED" },
        "Reason": outcome.as_ref().err().cloned().unwrap_or_else(|| "config.json written".to_owned()),
        "PhysicalResourceId": request["PhysicalResourceId"].as_str().map_or_else(
            || format!("{bucket}/config.json"),
            str::to_owned,
        ),
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "Data": {},
    });
    let url = request["ResponseURL"].as_str().ok_or("no ResponseURL")?;
    // The URL is presigned for a PUT with no content type.
    let (status, _) = http
        .send(
            "PUT",
            url,
            &[("content-type", "")],
            answer.to_string().into_bytes(),
        )
        .await?;
    if !(200..300).contains(&status) {
        return Err(format!("CloudFormation's response URL answered {status}"));
    }
    outcome
}
