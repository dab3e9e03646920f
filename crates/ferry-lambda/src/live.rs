//! The WebSocket API's routes: `$connect` records the connection (the
//! authorizer let it in and named its user), `$disconnect` forgets it, and
//! `$default` answers the client's messages (`hello`, `resume`, `ping`) by
//! posting to the connection, as the local socket answers them.

use ferry_aws::ApiGatewayNotifier;
use ferry_core::model::UserId;
use ferry_protocol::live::{hello_message, resume};
use ferry_protocol::{ApiError, ErrorCode, Timestamp};
use serde_json::{Value, json};

/// API Gateway's answer to a route: the status only (replies are posted).
fn status(code: u16) -> Value {
    json!({"statusCode": code})
}

fn error_message(code: ErrorCode, message: &str) -> String {
    json!({"type": "error", "error": ApiError::new(code, message)}).to_string()
}

/// The user the authorizer named for this connection.
fn user_of(event: &Value) -> Option<UserId> {
    let authorizer = &event["requestContext"]["authorizer"];
    authorizer["principalId"]
        .as_str()
        .or_else(|| authorizer["sub"].as_str())
        .and_then(UserId::parse)
}

/// Handles one WebSocket event (`requestContext.routeKey` says which).
pub async fn handle(notifier: &ApiGatewayNotifier, event: &Value, now: Timestamp) -> Value {
    let context = &event["requestContext"];
    let Some(connection) = context["connectionId"].as_str() else {
        return status(400);
    };
    match context["routeKey"].as_str().unwrap_or_default() {
        "$connect" => {
            let Some(user) = user_of(event) else {
                return status(401);
            };
            match notifier.connect(connection, &user, now).await {
                Ok(()) => status(200),
                Err(error) => {
                    tracing::error!(%error, "a connection couldn't be recorded");
                    status(500)
                }
            }
        }
        "$disconnect" => {
            if let Err(error) = notifier.disconnect(connection).await {
                tracing::warn!(%error, "a connection couldn't be forgotten (its TTL will)");
            }
            status(200)
        }
        _ => {
            let user = match user_of(event) {
                Some(user) => Some(user),
                None => notifier.user_of(connection).await.ok().flatten(),
            };
            let Some(user) = user else {
                return status(401);
            };
            for line in answer(notifier, &user, event["body"].as_str().unwrap_or_default()).await {
                match notifier.send(connection, &line).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(%error, "a reply couldn't be posted");
                        return status(500);
                    }
                }
            }
            status(200)
        }
    }
}

/// The replies to one client message, in order.
async fn answer(notifier: &ApiGatewayNotifier, user: &UserId, body: &str) -> Vec<String> {
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match request["action"].as_str() {
        Some("hello") => vec![hello_message(notifier.latest_cursor(user).await.ok())],
        Some("ping") => vec![json!({"type": "pong"}).to_string()],
        Some("resume") => resume(request["after"].as_i64().unwrap_or(0), |after, limit| {
            notifier.events_after(user, after, limit)
        })
        .await
        .unwrap_or_else(|_| {
            vec![error_message(
                ErrorCode::Unavailable,
                "The feed can't be read right now; try again.",
            )]
        }),
        Some(other) => vec![error_message(
            ErrorCode::MalformedRequest,
            &format!("There is no action “{other}”; use hello, resume or ping."),
        )],
        None => vec![error_message(
            ErrorCode::MalformedRequest,
            "Send {\"action\": \"hello\"}, {\"action\": \"resume\", \"after\": N} or {\"action\": \"ping\"}.",
        )],
    }
}
