//! The WebSocket API's routes: `$connect` records the connection (the
//! authorizer let it in and named its user), `$disconnect` forgets it, and
//! `$default` answers the client's messages (`hello`, `resume`, `ping`) by
//! posting to the connection: `ferry_core::feed::answer`, as the local
//! socket answers them.

use ferry_aws::ApiGatewayNotifier;
use ferry_core::model::UserId;
use ferry_protocol::Timestamp;
use serde_json::{Value, json};

/// API Gateway's answer to a route: the status only (replies are posted).
fn status(code: u16) -> Value {
    json!({"statusCode": code})
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
            let body = event["body"].as_str().unwrap_or_default();
            for line in ferry_core::feed::answer(notifier, &user, body).await {
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
