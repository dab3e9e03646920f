//! Live notifications: the local stand-in for API Gateway's WebSocket API
//! and its `@connections` management API.
//!
//! [`LiveHub`] is the notifier port's local adapter. Each user's events are
//! appended to a feed (SQLite, once per event id) and pushed to that user's
//! open sockets — never anyone else's. The feed numbers events with a cursor,
//! so a client that reconnects sends `{"action":"resume","after":N}` and gets
//! everything it missed; `GET /api/events?after=N` reads the same feed for a
//! client that can't keep a socket open.
//!
//! The socket keeps API Gateway's limits: it authenticates on connect (the
//! token in the query string, as a `$connect` authorizer takes it), a message
//! is at most 128 KB, a connection idle for 10 minutes or older than 2 hours
//! is closed (the client reconnects and resumes), and the server pings every
//! 30 seconds so proxies keep it open.

use crate::AppState;
use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_core::ports::{Notifier, PortError, PortResult};
use ferry_protocol::EventEnvelope;
use futures_util::{SinkExt, StreamExt};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

pub use ferry_protocol::live::MAX_MESSAGE_BYTES;

/// Each socket's read buffer. A client sends only small messages (`hello`,
/// `resume`, `ping`, its close), and a larger frame still gets the room it
/// needs, up to [`MAX_MESSAGE_BYTES`]. The WebSocket library's default is
/// 128 KiB, zero-filled on the first read, so every socket held 128 KiB
/// whatever it received: 25 MiB for 200 sockets, and as clients reconnect,
/// those blocks were freed and taken again across the allocator's arenas,
/// a slow climb of the server's memory in the load test (issue 15).
const READ_BUFFER_BYTES: usize = 4 * 1024;
use ferry_protocol::live::ServerMessage;

/// The socket's timing, API Gateway's by default.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// A connection that sends nothing (not even a pong) this long is closed.
    pub idle_timeout: Duration,
    /// A connection is closed after this long, whatever it does.
    pub max_lifetime: Duration,
    /// How often the server pings.
    pub heartbeat: Duration,
    /// How long the feed keeps events.
    pub retention: Duration,
    /// Whether `/ws` upgrades at all. Off, the server answers as a proxy
    /// that doesn't pass WebSockets would, and browsers poll `/api/events`.
    pub websockets: bool,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 60 * 60),
            heartbeat: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            websockets: true,
        }
    }
}

pub use ferry_protocol::api::{FeedItem, FeedPage};

type Subscribers = HashMap<UserId, Vec<(u64, mpsc::Sender<Arc<str>>)>>;

/// The notifier's local adapter: the feed and the open sockets.
pub struct LiveHub {
    db: Arc<Mutex<Connection>>,
    subscribers: Mutex<Subscribers>,
    next_id: std::sync::atomic::AtomicU64,
    settings: LiveSettings,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("settings", &self.settings)
            .finish()
    }
}

fn other(error: impl std::fmt::Display) -> PortError {
    PortError::Other(error.to_string())
}

/// The feed's page cache, in KiB (`PRAGMA cache_size`). The feed grows by
/// every event until the retention drops it, so SQLite's default (2000 KiB)
/// filled a page at a time for as long as a server ran; resumes read the
/// newest rows, which fit in this.
const FEED_CACHE_KIB: i64 = 1024;

/// The feed's schema, one step per version (`PRAGMA user_version`).
const FEED_MIGRATIONS: &[&str] = &[
    // 1: the feed, one row per event of a user.
    "CREATE TABLE IF NOT EXISTS feed (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        event_id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        at INTEGER NOT NULL
     );
     CREATE INDEX IF NOT EXISTS feed_by_user ON feed (user, cursor);
     CREATE INDEX IF NOT EXISTS feed_by_age ON feed (at);",
    // 2: an event is unique per user, as every key starts with its user (the
    // ids of events about a command derive from an id a client chose). The
    // cursors are kept, so no client's place in its feed moves.
    "CREATE TABLE feed_by_user_event (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (user, event_id)
     );
     INSERT INTO feed_by_user_event (cursor, user, event_id, body, at)
         SELECT cursor, user, event_id, body, at FROM feed;
     DROP TABLE feed;
     ALTER TABLE feed_by_user_event RENAME TO feed;
     CREATE INDEX feed_by_user ON feed (user, cursor);
     CREATE INDEX feed_by_age ON feed (at);
     -- The newest cursor of each user's events dropped for age: a client
     -- that asks after an older one missed something, and is told so.
     CREATE TABLE feed_pruned (
        user TEXT NOT NULL PRIMARY KEY,
        through INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

/// Brings the feed's file to the latest schema; a file from a newer build is
/// refused rather than misread.
fn migrate_feed(db: &Connection) -> anyhow::Result<()> {
    let current: u32 = db.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let current = current as usize;
    anyhow::ensure!(
        current <= FEED_MIGRATIONS.len(),
        "the feed has schema version {current}, newer than this build's {}",
        FEED_MIGRATIONS.len()
    );
    for (step, sql) in FEED_MIGRATIONS.iter().enumerate().skip(current) {
        db.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql} PRAGMA user_version = {}; COMMIT;",
            step + 1
        ))
        .inspect_err(|_| {
            let _ = db.execute_batch("ROLLBACK");
        })?;
    }
    Ok(())
}

impl LiveHub {
    /// Opens (or creates) the feed at `path`.
    pub fn open(path: &Path, settings: LiveSettings) -> anyhow::Result<Arc<Self>> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.pragma_update(None, "cache_size", -FEED_CACHE_KIB)?;
        db.busy_timeout(Duration::from_secs(5))?;
        migrate_feed(&db)?;
        Ok(Arc::new(Self {
            db: Arc::new(Mutex::new(db)),
            subscribers: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            settings,
        }))
    }

    /// The settings.
    pub fn settings(&self) -> LiveSettings {
        self.settings
    }

    async fn with_db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> PortResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let db = db
                .lock()
                .map_err(|_| other("the feed's lock is poisoned"))?;
            work(&db).map_err(other)
        })
        .await
        .map_err(other)?
    }

    /// Drops events older than the retention, noting per user the newest
    /// cursor dropped (a client asking after an older one is told it missed
    /// events).
    pub async fn prune(&self, now_unix: i64) -> PortResult<usize> {
        let cutoff = now_unix - self.settings.retention.as_secs() as i64;
        self.with_db(move |db| {
            let tx = db.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO feed_pruned (user, through)
                     SELECT user, MAX(cursor) FROM feed WHERE at < ?1 GROUP BY user
                 ON CONFLICT (user) DO UPDATE SET through = MAX(through, excluded.through)",
                params![cutoff],
            )?;
            let dropped = tx.execute("DELETE FROM feed WHERE at < ?1", params![cutoff])?;
            tx.commit()?;
            Ok(dropped)
        })
        .await
    }

    /// How many sockets `user` has open.
    pub fn connections(&self, user: &UserId) -> usize {
        self.subscribers
            .lock()
            .map(|s| s.get(user).map_or(0, Vec::len))
            .unwrap_or(0)
    }

    fn subscribe(self: &Arc<Self>, user: &UserId) -> (Subscription, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(256);
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut subscribers) = self.subscribers.lock() {
            subscribers.entry(user.clone()).or_default().push((id, tx));
        }
        (
            Subscription {
                hub: self.clone(),
                user: user.clone(),
                id,
            },
            rx,
        )
    }

    fn push(&self, user: &UserId, message: Arc<str>) {
        let Ok(mut subscribers) = self.subscribers.lock() else {
            return;
        };
        if let Some(senders) = subscribers.get_mut(user) {
            // A socket that can't keep up loses its sender and is closed; its
            // client reconnects and resumes from the feed.
            senders.retain(|(_, tx)| tx.try_send(message.clone()).is_ok());
            if senders.is_empty() {
                subscribers.remove(user);
            }
        }
    }
}

/// Removes a socket's sender when the socket ends.
struct Subscription {
    hub: Arc<LiveHub>,
    user: UserId,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut subscribers) = self.hub.subscribers.lock()
            && let Some(senders) = subscribers.get_mut(&self.user)
        {
            senders.retain(|(id, _)| *id != self.id);
            if senders.is_empty() {
                subscribers.remove(&self.user);
            }
        }
    }
}

/// The feed as the local hub keeps it: one SQLite table, one cursor
/// sequence for all users.
#[async_trait]
impl Feed for LiveHub {
    async fn events_after(&self, user: &UserId, after: i64, limit: u32) -> PortResult<FeedPage> {
        let user = user.as_str().to_owned();
        let limit = i64::from(limit.clamp(1, 1000));
        let (rows, latest, missed) = self
            .with_db(move |db| {
                let mut statement = db.prepare_cached(
                    "SELECT cursor, body FROM feed WHERE user = ?1 AND cursor > ?2
                     ORDER BY cursor LIMIT ?3",
                )?;
                let rows = statement
                    .query_map(params![user, after, limit + 1], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let latest: Option<i64> = db
                    .query_row("SELECT MAX(cursor) FROM feed", [], |row| row.get(0))
                    .optional()?
                    .flatten();
                let pruned: Option<i64> = db
                    .prepare_cached("SELECT through FROM feed_pruned WHERE user = ?1")?
                    .query_row(params![user], |row| row.get(0))
                    .optional()?;
                Ok((rows, latest.unwrap_or(0), pruned.is_some_and(|p| after < p)))
            })
            .await?;
        let more = rows.len() as i64 > limit;
        let events: Vec<FeedItem> = rows
            .into_iter()
            .take(limit as usize)
            .map(|(cursor, body)| FeedItem {
                cursor,
                event: serde_json::from_str(&body).unwrap_or_default(),
            })
            .collect();
        let cursor = match events.last() {
            Some(last) if more => last.cursor,
            // Nothing more for this user: the newest cursor of all, so the
            // next resume skips other users' rows.
            _ => latest.max(after),
        };
        Ok(FeedPage {
            events,
            cursor,
            more,
            missed,
        })
    }

    /// The newest cursor of the whole feed (0 when it is empty): cursors
    /// are one sequence for every user.
    async fn latest_cursor(&self, _: &UserId) -> PortResult<i64> {
        self.with_db(|db| {
            db.query_row("SELECT COALESCE(MAX(cursor), 0) FROM feed", [], |row| {
                row.get(0)
            })
        })
        .await
    }

    fn retention(&self) -> Duration {
        self.settings.retention
    }
}

#[async_trait]
impl Notifier for LiveHub {
    async fn notify(&self, user: &UserId, event: &EventEnvelope) -> PortResult<()> {
        let body = serde_json::to_value(event).map_err(other)?;
        let event_id = event.metadata().event_id.to_string();
        let at = event.metadata().occurred_at.unix_millis() / 1000;
        let (owner, text) = (user.as_str().to_owned(), body.to_string());
        let cursor = self
            .with_db(move |db| {
                let inserted = db.execute(
                    "INSERT OR IGNORE INTO feed (user, event_id, body, at) VALUES (?1, ?2, ?3, ?4)",
                    params![owner, event_id, text, at],
                )?;
                Ok((inserted == 1).then(|| db.last_insert_rowid()))
            })
            .await?;
        // A redelivered event was pushed the first time (or is in the feed
        // for a client that resumes).
        if let Some(cursor) = cursor {
            self.push(
                user,
                Arc::from(ServerMessage::event(cursor, body).to_text()),
            );
        }
        Ok(())
    }
}

/// `GET /ws?token=…`.
#[derive(Debug, Deserialize)]
pub struct Connect {
    token: Option<String>,
}

/// The WebSocket endpoint: authorizes the token in the query string before
/// upgrading (a refused connection gets `401` and no socket).
pub async fn connect(
    State(state): State<Arc<AppState>>,
    Query(query): Query<Connect>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.live.settings.websockets {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "WebSockets are turned off on this server; poll /api/events instead.",
        )
            .into_response();
    }
    let token = query.token.unwrap_or_default();
    let user = match crate::api::authorize(&state.identity, &token, state.clock.unix()) {
        Ok(user) => user,
        Err(error) => return crate::AppError::Api(error).into_response(),
    };
    let hub = state.live.clone();
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| session(socket, hub, user))
}

async fn session(socket: WebSocket, hub: Arc<LiveHub>, user: UserId) {
    let settings = hub.settings;
    // Subscribe before anything else, so no event falls between the feed
    // read of a resume and the live stream. (A duplicate may arrive; the
    // client dedupes on the cursor and the event id.)
    let (_subscription, mut events) = hub.subscribe(&user);
    let (mut sink, mut stream) = socket.split();
    let opened = Instant::now();
    let mut last_heard = Instant::now();
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    heartbeat.tick().await;

    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    loop {
        let lifetime_left = settings.max_lifetime.saturating_sub(opened.elapsed());
        tokio::select! {
            pushed = events.recv() => {
                let Some(message) = pushed else {
                    // Dropped for falling behind: reconnect and resume.
                    let _ = sink.send(close(1013, "fell behind; reconnect and resume")).await;
                    break;
                };
                if sink.send(text(message.to_string())).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    Message::Text(body) => {
                        let reply = ferry_core::feed::answer(&*hub, &user, body.as_str()).await;
                        let mut failed = false;
                        for line in reply {
                            if sink.send(text(line)).await.is_err() {
                                failed = true;
                                break;
                            }
                        }
                        if failed {
                            break;
                        }
                    }
                    // The client starts the closing handshake: answer it
                    // (RFC 6455 §5.5.1; tungstenite queued the reply, and
                    // closing the sink sends it), as API Gateway does.
                    Message::Close(_) => {
                        let _ = sink.close().await;
                        break;
                    }
                    _ => {}
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() >= settings.idle_timeout {
                    let _ = sink.send(close(1001, "idle")).await;
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep(lifetime_left) => {
                let _ = sink.send(close(1001, "connection lifetime reached; reconnect and resume")).await;
                break;
            }
        }
    }
}

fn text(body: String) -> Message {
    Message::Text(Utf8Bytes::from(body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ferry_protocol::messages::FolderCreatedV1;
    use ferry_protocol::{Event, FolderPath, Metadata, Timestamp, TraceId};
    use uuid::Uuid;

    fn event(id: Uuid, at_unix: i64) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: id,
                trace_id: TraceId::from_uuid(id),
                command_id: None,
                occurred_at: Timestamp::from_unix_millis(at_unix * 1000).unwrap(),
                producer: "test".into(),
                user_id: None,
            },
            Event::FolderCreated(FolderCreatedV1 {
                path: FolderPath::parse("a").unwrap(),
            }),
        )
    }

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    // The feed's contract, as the DynamoDB feed runs it too.
    ferry_core::feed_conformance_tests!({
        let dir = tempfile::tempdir().unwrap();
        let hub = LiveHub::open(&dir.path().join("feed.sqlite3"), LiveSettings::default()).unwrap();
        (hub, dir)
    });

    #[tokio::test]
    async fn an_event_id_is_once_per_user_not_once_for_all() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LiveHub::open(&dir.path().join("feed.sqlite3"), LiveSettings::default()).unwrap();
        let id = Uuid::new_v4();
        for owner in ["ann", "bob", "bob"] {
            hub.notify(&user(owner), &event(id, 1_000)).await.unwrap();
        }
        for owner in ["ann", "bob"] {
            let page = hub.events_after(&user(owner), 0, 10).await.unwrap();
            assert_eq!(page.events.len(), 1, "{owner}");
        }
    }

    #[tokio::test]
    async fn a_cursor_older_than_what_was_pruned_is_told_it_missed_events() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LiveHub::open(&dir.path().join("feed.sqlite3"), LiveSettings::default()).unwrap();
        let week = LiveSettings::default().retention.as_secs() as i64;
        let (ann, bob) = (user("ann"), user("bob"));
        hub.notify(&ann, &event(Uuid::new_v4(), 1_000))
            .await
            .unwrap();
        hub.notify(&bob, &event(Uuid::new_v4(), 1_000))
            .await
            .unwrap();
        hub.notify(&ann, &event(Uuid::new_v4(), 2_000))
            .await
            .unwrap();
        let before = hub.events_after(&ann, 0, 10).await.unwrap();
        assert_eq!((before.events.len(), before.missed), (2, false));

        assert_eq!(hub.prune(1_500 + week).await.unwrap(), 2);
        let after_zero = hub.events_after(&ann, 0, 10).await.unwrap();
        assert_eq!((after_zero.events.len(), after_zero.missed), (1, true));
        // Ann's dropped event had cursor 1: a client past it missed nothing.
        let current = hub.events_after(&ann, 1, 10).await.unwrap();
        assert_eq!((current.events.len(), current.missed), (1, false));
        // Bob's dropped event was cursor 2.
        assert!(hub.events_after(&bob, 1, 10).await.unwrap().missed);
        assert!(!hub.events_after(&bob, 2, 10).await.unwrap().missed);
        // A later prune never lowers what was noted.
        hub.prune(1_500 + week).await.unwrap();
        assert!(hub.events_after(&bob, 1, 10).await.unwrap().missed);
    }

    #[test]
    fn a_feed_written_before_events_were_per_user_keeps_its_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.sqlite3");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(FEED_MIGRATIONS[0]).unwrap();
            db.execute_batch(
                "INSERT INTO feed (cursor, user, event_id, body, at) VALUES
                     (4, 'ann', 'e1', '{}', 1), (9, 'bob', 'e2', '{}', 1);",
            )
            .unwrap();
        }
        let hub = LiveHub::open(&path, LiveSettings::default()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let page = hub.events_after(&user("bob"), 0, 10).await.unwrap();
            assert_eq!(page.events[0].cursor, 9);
            hub.notify(&user("ann"), &event(Uuid::new_v4(), 5))
                .await
                .unwrap();
            let page = hub.events_after(&user("ann"), 4, 10).await.unwrap();
            assert_eq!(page.events[0].cursor, 10, "new cursors follow the old");
        });
        drop(hub);
        let db = Connection::open(&path).unwrap();
        let version: u32 = db
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, FEED_MIGRATIONS.len());
    }

    /// The feed's connection has the bounded page cache, so the hub's
    /// memory stops growing with the feed (issue 15's soak).
    #[test]
    fn the_feed_has_a_bounded_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LiveHub::open(&dir.path().join("feed.sqlite3"), LiveSettings::default()).unwrap();
        let cache: i64 = hub
            .db
            .lock()
            .unwrap()
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .unwrap();
        assert_eq!(cache, -FEED_CACHE_KIB);
    }
}
