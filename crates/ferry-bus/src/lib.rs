//! The local stack's event bus: an EventBridge custom bus on one machine.
//!
//! [`LocalBus`] implements the domain's [`ferry_core::ports::Bus`] port. A
//! `put` wraps each entry in the EventBridge event JSON (`version`, `id`,
//! `detail-type`, `source`, `account`, `time`, `region`, `resources`,
//! `detail`), matches it against every [`Rule`]'s EventBridge pattern and, in
//! one SQLite transaction, appends it to the log with one delivery per
//! matching rule. The dispatcher ([`LocalBus::start`]) hands due deliveries to
//! the rules' [`Target`]s, retries failures with exponential backoff and full
//! jitter ([`RetryPolicy`]), and moves a delivery that runs out of attempts to
//! the dead-letter table, from which [`LocalBus::replay`] or [`dlq_replay`]
//! (the CLI, from another process) re-queue it.
//!
//! **Invariant:** an entry is durable before `put` returns; every matching
//! rule's target gets it at least once, or it lands in the dead-letter table.
//!
//! What follows from "at least once", as on EventBridge:
//! - A target may see an event more than once (a retry after a timeout, a
//!   crash between delivering and recording it, a replay), so targets must be
//!   idempotent: Ferry's consumers deduplicate on `detail.metadata.EventId`.
//! - Order is not guaranteed, neither across rules nor within one: deliveries
//!   run several at a time and a retried one falls behind later events.
//! - A `put` of an entry whose `detail.metadata.EventId` was already put from
//!   the same `source` is skipped, so a producer may retry a put safely
//!   (EventBridge itself has no such check; it is what Ferry's consumers
//!   would do anyway, done once at the door). Entries without an `EventId`
//!   (S3 notifications) are never skipped.
//!
//! ```
//! use ferry_bus::{BusConfig, LocalBus, RetryPolicy, Rule, Target, async_trait};
//! use ferry_core::clock::SystemClock;
//! use ferry_core::ports::{Bus, BusEntry};
//! use std::sync::Arc;
//!
//! struct Deleter;
//!
//! #[async_trait]
//! impl Target for Deleter {
//!     async fn deliver(&self, event: &serde_json::Value) -> Result<(), String> {
//!         // Carry out `event["detail"]`, idempotently; `Err` asks for a retry.
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let dir = tempfile::TempDir::new()?;
//! # let path = dir.path().join("bus.sqlite3");
//! let config = BusConfig {
//!     name: "ferry".to_owned(),
//!     account: "000000000000".to_owned(),
//!     region: "eu-west-1".to_owned(),
//!     retry: RetryPolicy::default(),
//! };
//! let rules = vec![Rule {
//!     name: "deleter".to_owned(),
//!     pattern: serde_json::json!({"source": ["ferry.commands"], "detail-type": ["DeleteFile"]}),
//!     target: Arc::new(Deleter),
//! }];
//! let bus = LocalBus::open(&path, config, rules, Arc::new(SystemClock))?;
//! let dispatcher = bus.start();
//! bus.put(vec![BusEntry {
//!     source: "ferry.commands".to_owned(),
//!     detail_type: "DeleteFile".to_owned(),
//!     detail: serde_json::json!({"metadata": {"EventId": "…"}, "data": {"Action": "DeleteFile"}}),
//! }])
//! .await?;
//! bus.drain().await;
//! dispatcher.abort();
//! # Ok(())
//! # }
//! ```

mod bus;
mod pattern;
mod retry;
mod store;

pub use bus::{LocalBus, dlq_list, dlq_replay};
pub use retry::RetryPolicy;

/// Re-exported so a [`Target`] can be implemented without naming the crate.
pub use async_trait::async_trait;

use std::fmt;
use std::sync::Arc;

/// How the bus presents itself: the name, account and region of a custom
/// EventBridge bus, and how failed deliveries are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// The custom bus's name, e.g. `ferry`: 1 to 256 of `A–Z a–z 0–9 . _ - /`.
    /// `default` is refused; Ferry never publishes on the default bus.
    pub name: String,
    /// The account id written in each event (`000000000000` locally).
    pub account: String,
    /// The region written in each event.
    pub region: String,
    /// Retries of failed deliveries.
    pub retry: RetryPolicy,
}

/// Where a rule sends the events it matches: a consumer, the notifier, …
#[async_trait]
pub trait Target: Send + Sync {
    /// Handles one event: the whole EventBridge event JSON, `detail` being the
    /// entry's detail. `Err` (with a reason, kept in the dead letter) asks for
    /// a retry. The same event may come more than once, so a target must be
    /// idempotent.
    async fn deliver(&self, event: &serde_json::Value) -> Result<(), String>;
}

/// A rule: an EventBridge event pattern and the target of what it matches.
pub struct Rule {
    /// Unique on the bus: 1 to 64 of `A–Z a–z 0–9 . _ -`. It is stored with
    /// each delivery, so renaming a rule orphans its pending deliveries (they
    /// are dead-lettered, and can be replayed once the name is back).
    pub name: String,
    /// An EventBridge event pattern, e.g.
    /// `{"source": ["ferry.commands"], "detail-type": ["DeleteFile"]}`.
    /// Supported: exact values, `prefix`, `suffix`, `anything-but` (a value
    /// or a list), `numeric`, `exists`, `wildcard`, `equals-ignore-case`,
    /// `cidr` and `$or`. Refused when the bus opens (never silently
    /// unmatched): `anything-but` with an operator inside it (`{"anything-but":
    /// {"prefix": …}}`), and one field constrained both inside and outside an
    /// `$or`.
    pub pattern: serde_json::Value,
    /// Receives every matching event.
    pub target: Arc<dyn Target>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

/// A delivery that failed `max_attempts` times.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Its id, for [`LocalBus::replay`] and [`dlq_replay`].
    pub id: i64,
    /// The rule whose target kept failing.
    pub rule: String,
    /// The whole EventBridge event.
    pub event: serde_json::Value,
    /// Attempts made.
    pub attempts: u32,
    /// What the target answered the last time.
    pub last_error: String,
    /// When it was dead-lettered (RFC 3339, from the bus's clock).
    pub failed_at: String,
}
