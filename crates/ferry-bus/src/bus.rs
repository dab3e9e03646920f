//! [`LocalBus`]: the bus port's local adapter, its dispatcher, and the
//! dead-letter functions the CLI uses from another process.

use crate::pattern::Patterns;
use crate::retry::random_unit;
use crate::store::{self, Claimed, Failure, NewEvent, now_ms};
use crate::{BusConfig, DeadLetter, Rule, Target};
use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use ferry_core::clock::Clock;
use ferry_core::ports::{Bus, BusEntry, PortError, PortResult};
use ferry_protocol::Timestamp;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Deliveries handed to targets at once.
const MAX_IN_FLIGHT: usize = 8;
/// The dispatcher looks for due deliveries at least this often, so rows
/// re-queued by another process (`ferry-server dlq replay`) are picked up.
const POLL: Duration = Duration::from_secs(1);
/// EventBridge refuses an entry bigger than 256 KB; so does this bus.
const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// The local EventBridge-style custom bus, kept in one SQLite file.
///
/// Open it with its rules, [`start`](Self::start) its dispatcher, and put
/// entries through the [`Bus`] port. See the crate documentation for what
/// it guarantees.
pub struct LocalBus {
    config: BusConfig,
    path: PathBuf,
    patterns: Patterns,
    targets: HashMap<String, Arc<dyn Target>>,
    db: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    /// Wakes the dispatcher: something was put or re-queued.
    wake: Notify,
    /// Signalled whenever a delivery attempt's outcome is recorded.
    progress: Notify,
}

impl fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rules: Vec<&String> = self.targets.keys().collect();
        rules.sort();
        f.debug_struct("LocalBus")
            .field("config", &self.config)
            .field("path", &self.path)
            .field("rules", &rules)
            .finish_non_exhaustive()
    }
}

impl LocalBus {
    /// Opens (creating it if needed) the bus file at `path` with these rules.
    ///
    /// Deliveries a previous process left in flight go back to pending, so
    /// they are delivered again once the dispatcher starts. Refuses the bus
    /// name `default` or an invalid one, an invalid or duplicate rule name,
    /// and an invalid event pattern.
    ///
    /// Run one bus per file: a second one opened on it would put the first
    /// one's in-flight deliveries back to pending, and they would be
    /// delivered twice (still at least once, never lost). The `dlq_*`
    /// functions are safe to use alongside.
    ///
    /// This does blocking file IO; call it at start-up, not from a busy
    /// async task.
    pub fn open(
        path: &Path,
        config: BusConfig,
        rules: Vec<Rule>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Self>> {
        check_bus_name(&config.name)?;
        let mut targets = HashMap::with_capacity(rules.len());
        for rule in &rules {
            check_rule_name(&rule.name)?;
            if targets
                .insert(rule.name.clone(), Arc::clone(&rule.target))
                .is_some()
            {
                bail!("two rules are named `{}`", rule.name);
            }
        }
        let patterns = Patterns::new(rules.iter().map(|r| (r.name.as_str(), &r.pattern)))?;
        let conn = store::open(path, true)
            .with_context(|| format!("opening the bus file {}", path.display()))?;
        let recovered =
            store::recover(&conn, now_ms()).context("recovering in-flight deliveries")?;
        if recovered > 0 {
            tracing::info!(
                recovered,
                "bus: deliveries left in flight are pending again"
            );
        }
        Ok(Arc::new(Self {
            config,
            path: path.to_owned(),
            patterns,
            targets,
            db: Arc::new(Mutex::new(conn)),
            clock,
            wake: Notify::new(),
            progress: Notify::new(),
        }))
    }

    /// Starts the dispatcher and returns its task; abort the handle to stop
    /// it. Deliveries it had in flight then stay marked so and are delivered
    /// again when the file is next opened (at least once, never lost).
    ///
    /// It hands up to 8 due deliveries at a time to their targets, is woken
    /// by every `put` and `replay` on this bus, and looks for due deliveries
    /// at least once a second for those re-queued by another process.
    pub fn start(self: &Arc<Self>) -> JoinHandle<()> {
        let bus = Arc::clone(self);
        tokio::spawn(bus.dispatch())
    }

    /// Waits until no delivery is pending or in flight: every delivery made so
    /// far is done or dead-lettered. Pending includes deliveries waiting out a
    /// retry backoff, so with the default policy this can take minutes; it is
    /// meant for tests with a small [`crate::RetryPolicy`]. Never returns if the
    /// dispatcher isn't running while something is pending.
    pub async fn drain(&self) {
        loop {
            let progress = self.progress.notified();
            match self.with_db(|conn| store::outstanding(conn)).await {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "bus: counting outstanding deliveries"),
            }
            tokio::select! {
                () = progress => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Every dead letter, oldest first. Blocks on the file briefly.
    pub fn dead_letters(&self) -> anyhow::Result<Vec<DeadLetter>> {
        let conn = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        store::dead_letters(&conn).context("listing dead letters")
    }

    /// Re-queues one dead letter (`Some(id)`) or all of them (`None`) as
    /// pending deliveries with their attempts reset, and wakes the dispatcher.
    /// Returns how many were re-queued (0 for an unknown id). Blocks on the
    /// file briefly.
    pub fn replay(&self, id: Option<i64>) -> anyhow::Result<u64> {
        let count = {
            let mut conn = self.db.lock().unwrap_or_else(PoisonError::into_inner);
            store::replay(&mut conn, id, now_ms()).context("replaying dead letters")?
        };
        if count > 0 {
            self.wake.notify_one();
        }
        Ok(count)
    }

    /// Removes deliveries done more than `older_than` ago, and the events
    /// nothing refers to any more. Returns how many deliveries were removed.
    ///
    /// Idempotent puts are checked against the log, so after pruning an
    /// `EventId` put again is delivered again: keep `older_than` well above
    /// any producer's retry horizon. Blocks on the file briefly.
    pub fn prune(&self, older_than: Duration) -> anyhow::Result<u64> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(age);
        let mut conn = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        store::prune(&mut conn, cutoff).context("pruning delivered events")
    }

    /// Now by the bus's clock, in whole seconds as EventBridge writes `time`.
    fn now(&self) -> Timestamp {
        self.clock
            .unix()
            .checked_mul(1000)
            .and_then(Timestamp::from_unix_millis)
            .unwrap_or_else(|| Timestamp::new(self.clock.now()))
    }

    /// Runs `work` on the file from a blocking thread, off the async workers.
    async fn with_db<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let mut conn = db.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(|e| anyhow!("the bus's database task failed: {e}"))?
        .map_err(anyhow::Error::from)
    }

    /// The dispatcher loop.
    async fn dispatch(self: Arc<Self>) {
        let mut in_flight = JoinSet::new();
        loop {
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
            let mut wait = POLL;
            if room > 0 {
                match self
                    .with_db(move |conn| store::claim(conn, room, now_ms()))
                    .await
                {
                    Ok((claimed, next_due)) => {
                        for delivery in claimed {
                            in_flight.spawn(Arc::clone(&self).attempt(delivery));
                        }
                        if let Some(due) = next_due {
                            let until = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                            wait = wait.min(Duration::from_millis(until));
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "bus: claiming due deliveries"),
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One delivery attempt, and the record of its outcome.
    async fn attempt(self: Arc<Self>, delivery: Claimed) {
        let Claimed {
            id,
            rule,
            attempts,
            body,
        } = delivery;
        let outcome = match self.targets.get(&rule) {
            // A rule renamed or removed since the event was put: nothing can
            // take the event, so it goes straight to the dead letters.
            None => Outcome::Undeliverable(format!("no rule named `{rule}` on this bus")),
            Some(target) => match serde_json::from_str::<Value>(&body) {
                Err(e) => Outcome::Undeliverable(format!("the stored event is not JSON: {e}")),
                Ok(event) => {
                    let target = Arc::clone(target);
                    // Its own task, so a panicking target counts as a failure;
                    // aborted with this one, so stopping the dispatcher stops it.
                    let mut call =
                        AbortOnDrop(tokio::spawn(async move { target.deliver(&event).await }));
                    match (&mut call.0).await {
                        Ok(Ok(())) => Outcome::Delivered,
                        Ok(Err(error)) => Outcome::Failed(error),
                        Err(e) => Outcome::Failed(format!("the target panicked: {e}")),
                    }
                }
            },
        };
        let (error, failures, retry) = match outcome {
            Outcome::Delivered => {
                let recorded = self
                    .with_db(move |conn| store::complete(conn, id, now_ms()))
                    .await;
                self.recorded(&rule, id, recorded);
                return;
            }
            Outcome::Failed(error) => {
                let failures = attempts.saturating_add(1);
                let retry = self.config.retry.retries_after(failures);
                (error, failures, retry)
            }
            Outcome::Undeliverable(error) => (error, attempts, false),
        };
        if retry {
            tracing::warn!(rule, delivery = id, failures, %error, "bus: delivery failed; will retry");
        } else {
            tracing::error!(rule, delivery = id, failures, %error, "bus: delivery dead-lettered");
        }
        let backoff = self.config.retry.backoff(failures, random_unit());
        let failed_at = self.now().to_string();
        let recorded = self
            .with_db(move |conn| {
                let now = now_ms();
                let then = if retry {
                    let backoff = i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX);
                    Failure::RetryAt(now.saturating_add(backoff))
                } else {
                    Failure::DeadLetter {
                        failed_at: &failed_at,
                    }
                };
                store::fail(conn, id, failures, &error, then, now)
            })
            .await;
        self.recorded(&rule, id, recorded);
    }

    /// Logs a failure to record an attempt's outcome, and tells `drain`.
    fn recorded(&self, rule: &str, id: i64, recorded: anyhow::Result<()>) {
        if let Err(e) = recorded {
            // The row stays in flight and is delivered again after a restart.
            tracing::error!(rule, delivery = id, error = %e, "bus: recording a delivery's outcome");
        }
        self.progress.notify_waiters();
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let time = self.now().to_string();
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.source.is_empty() || entry.detail_type.is_empty() {
                return Err(PortError::Invalid(
                    "a bus entry needs a source and a detail-type".to_owned(),
                ));
            }
            if !entry.detail.is_object() {
                return Err(PortError::Invalid(
                    "a bus entry's detail is a JSON object".to_owned(),
                ));
            }
            let key = dedupe_key(&entry.detail);
            let id = uuid::Uuid::new_v4().to_string();
            let event = json!({
                "version": "0",
                "id": id,
                "detail-type": entry.detail_type,
                "source": entry.source,
                "account": self.config.account,
                "time": time,
                "region": self.config.region,
                "resources": [],
                "detail": entry.detail,
            });
            let body = event.to_string();
            if body.len() > MAX_ENTRY_BYTES {
                return Err(PortError::Invalid(format!(
                    "a bus entry is at most {MAX_ENTRY_BYTES} bytes; this one is {}",
                    body.len()
                )));
            }
            let rules = self
                .patterns
                .matching(body.as_bytes())
                .map_err(|e| PortError::Other(format!("{e:#}")))?;
            events.push(NewEvent {
                id,
                source: entry.source,
                key,
                body,
                rules,
            });
        }
        self.with_db(move |conn| store::append(conn, &events, now_ms()))
            .await
            .map_err(|e| PortError::Unavailable(format!("{e:#}")))?;
        self.wake.notify_one();
        Ok(())
    }
}

/// What a retried put is recognised by: the message's `EventId`, after its
/// `UserId` when it has one. Ids are chosen by clients, so two users may
/// pick the same one; every key starts with its user.
fn dedupe_key(detail: &Value) -> Option<String> {
    let event_id = detail
        .pointer("/metadata/EventId")
        .and_then(Value::as_str)?;
    Some(
        match detail.pointer("/metadata/UserId").and_then(Value::as_str) {
            Some(user) => format!("{user}/{event_id}"),
            None => event_id.to_owned(),
        },
    )
}

/// How a delivery attempt went.
#[derive(Debug)]
enum Outcome {
    /// The target took the event.
    Delivered,
    /// The target failed (or panicked); retry unless attempts are used up.
    Failed(String),
    /// No target can take it; dead-letter it without counting an attempt.
    Undeliverable(String),
}

/// A task handle that aborts its task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every dead letter in the bus file at `path`, oldest first. Opens its own
/// connection, so it works while a server has the bus open.
pub fn dlq_list(path: &Path) -> anyhow::Result<Vec<DeadLetter>> {
    let conn = open_existing(path)?;
    store::dead_letters(&conn).context("listing dead letters")
}

/// Re-queues one dead letter (`Some(id)`) or all of them (`None`) in the bus
/// file at `path`, with their attempts reset; returns how many. A running
/// bus's dispatcher picks them up within a second.
pub fn dlq_replay(path: &Path, id: Option<i64>) -> anyhow::Result<u64> {
    let mut conn = open_existing(path)?;
    store::replay(&mut conn, id, now_ms()).context("replaying dead letters")
}

fn open_existing(path: &Path) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!("no bus file at {}", path.display());
    }
    store::open(path, false).with_context(|| format!("opening the bus file {}", path.display()))
}

fn check_bus_name(name: &str) -> anyhow::Result<()> {
    if name == "default" {
        bail!("the bus name `default` is EventBridge's default bus; use a custom bus");
    }
    let valid = (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    if !valid {
        bail!("`{name}` is not a bus name: 1 to 256 of A-Z a-z 0-9 . _ - /");
    }
    Ok(())
}

fn check_rule_name(name: &str) -> anyhow::Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        bail!("`{name}` is not a rule name: 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    Ok(())
}
