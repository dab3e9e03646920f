//! The notifier on AWS: each user's feed in the index table (numbered per
//! user, kept a week), their open WebSocket connections in the connections
//! table (written by `$connect`, removed by `$disconnect`, aged out by TTL),
//! and pushes through API Gateway's management API (`@connections`). A
//! connection API Gateway says is gone (`410 Gone`) is removed.
//!
//! Feed items, in the user's partition of the index table:
//!
//! - `FEED`: `seq`, the last cursor given out (an atomic counter);
//! - `E#{cursor, 20 digits}`: the event (`{metadata, data}`), and its TTL;
//! - `EV#{eventId}`: that the event is in the feed (once per id), and its TTL.
//!
//! A cursor is taken from the counter and its event written in one
//! transaction, conditional on the counter not having moved, so a user's
//! cursors are written in order and without holes: a hole in what a reader
//! gets is an event that expired, and the page says `missed`. (Before this,
//! two invocations could write cursors 6 then 5, and a duplicate delivery
//! could leave a cursor unused; such old holes read as `missed` once.)

use crate::AwsSettings;
use crate::dynamodb::codec::{Expr, Item, key, s, user_pk};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_core::ports::{Notifier, PortError, PortResult};
use ferry_protocol::api::{FeedItem, FeedPage};
use ferry_protocol::live::ServerMessage;
use ferry_protocol::{EventEnvelope, Timestamp};
use std::time::Duration;

/// How long the feed keeps an event (as the local stack's).
pub const FEED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a connection record lives without a `$disconnect`: API
/// Gateway's two-hour connection limit, and some slack.
pub const CONNECTION_TTL: Duration = Duration::from_secs(2 * 3600 + 600);
/// The connections table's index of a user's connections.
pub const BY_USER: &str = "by-user";

/// Pushes events to a user's connections through API Gateway.
#[derive(Debug, Clone)]
pub struct ApiGatewayNotifier {
    dynamo: aws_sdk_dynamodb::Client,
    management: Option<aws_sdk_apigatewaymanagement::Client>,
    files_table: String,
    connections_table: String,
}

fn unavailable(what: &str, err: impl std::error::Error) -> PortError {
    PortError::Unavailable(format!(
        "{what}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    ))
}

fn cursor_key(user: &UserId, cursor: i64) -> Item {
    key(s(user_pk(user)), s(format!("E#{cursor:020}")))
}

fn expires(at: Timestamp, ttl: Duration) -> aws_sdk_dynamodb::types::AttributeValue {
    let seconds = at.get().unix_timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    aws_sdk_dynamodb::types::AttributeValue::N(seconds.to_string())
}

impl ApiGatewayNotifier {
    /// The notifier over `files_table` (the feed), `connections_table`, and
    /// the WebSocket API's management endpoint
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`; without
    /// one, the feed is kept and read but nothing is pushed).
    pub fn new(
        settings: &AwsSettings,
        files_table: &str,
        connections_table: &str,
        management_endpoint: Option<&str>,
    ) -> Self {
        let sdk = settings.sdk_config();
        let management = management_endpoint.map(|endpoint| {
            aws_sdk_apigatewaymanagement::Client::from_conf(
                aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
                    .endpoint_url(endpoint)
                    .build(),
            )
        });
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(&sdk),
            management,
            files_table: files_table.to_owned(),
            connections_table: connections_table.to_owned(),
        }
    }

    /// Records an open connection (`$connect`, once the authorizer let it
    /// in).
    pub async fn connect(
        &self,
        connection_id: &str,
        user: &UserId,
        now: Timestamp,
    ) -> PortResult<()> {
        self.dynamo
            .put_item()
            .table_name(&self.connections_table)
            .item("connection_id", s(connection_id))
            .item("user_id", s(user.as_str()))
            .item("expires_at", expires(now, CONNECTION_TTL))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        Ok(())
    }

    /// Forgets a connection (`$disconnect`, or gone).
    pub async fn disconnect(&self, connection_id: &str) -> PortResult<()> {
        self.dynamo
            .delete_item()
            .table_name(&self.connections_table)
            .key("connection_id", s(connection_id))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        Ok(())
    }

    /// The user a connection belongs to, if it is recorded.
    pub async fn user_of(&self, connection_id: &str) -> PortResult<Option<UserId>> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.connections_table)
            .key("connection_id", s(connection_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        Ok(match out.item.as_ref().and_then(|i| i.get("user_id")) {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(sub)) => UserId::parse(sub),
            _ => None,
        })
    }

    /// The connections open for `user`.
    pub async fn connections(&self, user: &UserId) -> PortResult<Vec<String>> {
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {}",
            expr.name("user_id"),
            expr.value("u", s(user.as_str()))
        );
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamo
                .query()
                .table_name(&self.connections_table)
                .index_name(BY_USER)
                .key_condition_expression(&condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB", e))?;
            for item in out.items.unwrap_or_default() {
                if let Some(aws_sdk_dynamodb::types::AttributeValue::S(id)) =
                    item.get("connection_id")
                {
                    ids.push(id.clone());
                }
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(ids),
            }
        }
    }

    /// Sends `message` to one connection. `Ok(false)` when API Gateway says
    /// it is gone; its record is then removed.
    pub async fn send(&self, connection_id: &str, message: &str) -> PortResult<bool> {
        let Some(management) = &self.management else {
            return Err(PortError::Unavailable(
                "no WebSocket management endpoint is configured".into(),
            ));
        };
        let sent = management
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(message.as_bytes().to_vec()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_gone_exception()) =>
            {
                self.disconnect(connection_id).await?;
                Ok(false)
            }
            Err(err) => Err(PortError::Unavailable(format!(
                "API Gateway @connections: {}",
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&err)
            ))),
        }
    }

    /// Creates the connections table as the template does (tests against a
    /// stand-in).
    pub async fn create_connections_table(&self) -> PortResult<()> {
        let fail = |e: aws_sdk_dynamodb::error::BuildError| PortError::Other(e.to_string());
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(fail)
        };
        let hash = |name: &str| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::Hash)
                .build()
                .map_err(fail)
        };
        self.dynamo
            .create_table()
            .table_name(&self.connections_table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string("connection_id")?)
            .attribute_definitions(string("user_id")?)
            .key_schema(hash("connection_id")?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(BY_USER)
                    .key_schema(hash("user_id")?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .map_err(fail)?,
            )
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB CreateTable", e))?;
        self.dynamo
            .update_time_to_live()
            .table_name(&self.connections_table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .map_err(fail)?,
            )
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Whether the event with this id is in `user`'s feed.
    async fn stored(&self, marker: &Item) -> PortResult<bool> {
        let seen = self
            .dynamo
            .get_item()
            .table_name(&self.files_table)
            .set_key(Some(marker.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        Ok(seen.item.is_some())
    }

    /// Puts the event in the feed unless it is there; answers its cursor
    /// when it was new.
    ///
    /// The cursor is taken and the event written in one transaction,
    /// conditional on the counter still holding what was read: two
    /// invocations for one user can't interleave, so a user's cursors are
    /// written in order and without holes (a reader that sees cursor `n`
    /// sees every cursor before it that hasn't expired).
    async fn store(&self, user: &UserId, event: &EventEnvelope) -> PortResult<Option<i64>> {
        let event_id = event.metadata().event_id;
        let marker = key(s(user_pk(user)), s(format!("EV#{event_id}")));
        let now = event.metadata().occurred_at;
        let body = serde_json::to_string(event).map_err(|e| PortError::Other(e.to_string()))?;
        let mut attempts = 0u32;
        loop {
            if self.stored(&marker).await? {
                return Ok(None);
            }
            let current = self.latest_cursor(user).await?;
            let cursor = current + 1;
            let number = |n: i64| aws_sdk_dynamodb::types::AttributeValue::N(n.to_string());

            let mut counter = Expr::default();
            let seq = counter.name("seq");
            let held = counter.value("current", number(current));
            let condition = if current == 0 {
                format!("attribute_not_exists({seq}) OR {seq} = {held}")
            } else {
                format!("{seq} = {held}")
            };
            let update = format!("SET {seq} = {}", counter.value("next", number(cursor)));
            let take = Update::builder()
                .table_name(&self.files_table)
                .set_key(Some(key(s(user_pk(user)), s("FEED"))))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(counter.names())
                .set_expression_attribute_values(counter.values())
                .build()
                .map_err(|e| PortError::Other(e.to_string()))?;

            let mut marker_item = marker.clone();
            marker_item.insert("seq".into(), number(cursor));
            marker_item.insert("expires_at".into(), expires(now, FEED_RETENTION));
            let mut entry = cursor_key(user, cursor);
            entry.insert("event".into(), s(body.clone()));
            entry.insert("expires_at".into(), expires(now, FEED_RETENTION));
            let mut absent = Expr::default();
            let not_there = format!("attribute_not_exists({})", absent.name("pk"));
            let put = |item: Item| {
                Put::builder()
                    .table_name(&self.files_table)
                    .set_item(Some(item))
                    .condition_expression(not_there.clone())
                    .set_expression_attribute_names(absent.names())
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| PortError::Other(e.to_string()))
            };
            let written = self
                .dynamo
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(take).build())
                .transact_items(put(marker_item)?)
                .transact_items(put(entry)?)
                .send()
                .await;
            match written {
                Ok(_) => return Ok(Some(cursor)),
                // Another invocation took the cursor, or stored this very
                // event: look again.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception())
                        && attempts < STORE_ATTEMPTS =>
                {
                    attempts += 1;
                    let jitter = u64::from(event_id.as_bytes()[0]) % 20;
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempts) + jitter))
                        .await;
                }
                Err(err) => return Err(unavailable("DynamoDB", err)),
            }
        }
    }
}

/// How often `store` tries again when other invocations keep taking the
/// cursor it read (each try reads the counter afresh).
const STORE_ATTEMPTS: u32 = 25;

/// The feed in the files table: a user's events under their partition,
/// numbered by a per-user counter, dropped by DynamoDB's TTL after
/// [`FEED_RETENTION`].
#[async_trait]
impl Feed for ApiGatewayNotifier {
    /// The newest cursor of `user`'s feed (0 when empty).
    async fn latest_cursor(&self, user: &UserId) -> PortResult<i64> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.files_table)
            .set_key(Some(key(s(user_pk(user)), s("FEED"))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        Ok(match out.item.as_ref().and_then(|i| i.get("seq")) {
            Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        })
    }

    /// `user`'s events after `after`, at most `limit` (1 to 1,000), in
    /// cursor order; the page's cursor is its last event's, or the newest
    /// when nothing more follows.
    async fn events_after(&self, user: &UserId, after: i64, limit: u32) -> PortResult<FeedPage> {
        let limit = limit.clamp(1, 1000) as usize;
        let from = after.max(0).saturating_add(1);
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {} AND {} BETWEEN {} AND {}",
            expr.name("pk"),
            expr.value("pk", s(user_pk(user))),
            expr.name("sk"),
            expr.value("lo", s(format!("E#{from:020}"))),
            expr.value("hi", s(format!("E#{:020}", i64::MAX)))
        );
        let out = self
            .dynamo
            .query()
            .table_name(&self.files_table)
            .key_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(1001))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", e))?;
        let items = out.items.unwrap_or_default();
        let more = items.len() > limit;
        let mut events = Vec::new();
        for item in items.into_iter().take(limit) {
            let (
                Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)),
                Some(aws_sdk_dynamodb::types::AttributeValue::S(body)),
            ) = (item.get("sk"), item.get("event"))
            else {
                continue;
            };
            let Some(cursor) = sk.strip_prefix("E#").and_then(|c| c.parse().ok()) else {
                continue;
            };
            events.push(FeedItem {
                cursor,
                event: serde_json::from_str(body).unwrap_or_default(),
            });
        }
        let cursor = match events.last() {
            Some(last) if more => last.cursor,
            _ => self.latest_cursor(user).await?.max(after),
        };
        // Cursors are dense per user: a hole is an event dropped for age.
        let mut expected = after.max(0) + 1;
        let mut missed = false;
        for item in &events {
            missed |= item.cursor != expected;
            expected = item.cursor + 1;
        }
        missed |= !more && cursor >= expected;
        Ok(FeedPage {
            events,
            cursor,
            more,
            missed,
        })
    }

    fn retention(&self) -> Duration {
        FEED_RETENTION
    }
}

#[async_trait]
impl Notifier for ApiGatewayNotifier {
    async fn notify(&self, user: &UserId, event: &EventEnvelope) -> PortResult<()> {
        let Some(cursor) = self.store(user, event).await? else {
            return Ok(());
        };
        if self.management.is_none() {
            return Ok(());
        }
        let body = serde_json::to_value(event).map_err(|e| PortError::Other(e.to_string()))?;
        let message = ServerMessage::event(cursor, body).to_text();
        // The event is in the feed: a push that fails is not retried (the
        // client resumes from the feed), so it only gets logged.
        for connection in self.connections(user).await? {
            if let Err(err) = self.send(&connection, &message).await {
                tracing::warn!(%connection, %err, "a push failed");
            }
        }
        Ok(())
    }
}
