//! The bus and the notifier in memory. The bus keeps what the local bus
//! keeps: an entry whose `metadata.EventId` it already has from the same
//! source is dropped, and every entry becomes one delivery per rule it
//! matches ([`crate::consumers::rules`]), waiting until a test delivers it.

use super::Faults;
use crate::feed::Feed;
use crate::model::UserId;
use crate::ports::{Bus, BusEntry, Notifier, PortResult};
use async_trait::async_trait;
use ferry_protocol::EventEnvelope;
use ferry_protocol::api::{FeedItem, FeedPage};
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// An event on its way to one rule's consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The rule (`indexer`, `deleter`, `mover`, `notifier`).
    pub rule: String,
    /// The event as EventBridge sends it (`id`, `source`, `detail-type`,
    /// `detail`).
    pub event: Value,
}

/// The bus.
#[derive(Debug)]
pub struct MemoryBus {
    faults: Arc<Faults>,
    rules: Vec<(&'static str, Value)>,
    state: Mutex<BusState>,
}

#[derive(Debug, Default)]
struct BusState {
    /// Every event kept, in order.
    events: Vec<Value>,
    /// `(source, EventId)` of each kept event that has one.
    keys: HashSet<(String, String)>,
    /// Deliveries not yet made.
    waiting: VecDeque<Delivery>,
    /// Deliveries made, in order.
    made: Vec<Delivery>,
}

impl MemoryBus {
    /// An empty bus with every rule of [`crate::consumers::rules`].
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            rules: crate::consumers::rules(),
            state: Mutex::new(BusState::default()),
        }
    }

    /// Keeps an entry without counting it as a port call: the object
    /// store's own events.
    pub fn emit(&self, entry: BusEntry) {
        let mut state = self.state.lock().unwrap();
        self.keep(&mut state, entry);
    }

    fn keep(&self, state: &mut BusState, entry: BusEntry) {
        if let Some(id) = entry
            .detail
            .pointer("/metadata/EventId")
            .and_then(Value::as_str)
            && !state.keys.insert((entry.source.clone(), id.to_owned()))
        {
            return;
        }
        let event = json!({
            "version": "0",
            "id": Uuid::new_v4().to_string(),
            "detail-type": entry.detail_type,
            "source": entry.source,
            "detail": entry.detail,
        });
        for (rule, pattern) in &self.rules {
            if matches(pattern, &event) {
                state.waiting.push_back(Delivery {
                    rule: (*rule).to_owned(),
                    event: event.clone(),
                });
            }
        }
        state.events.push(event);
    }

    /// The next delivery waiting, left first in line until [`Self::done`].
    pub fn next(&self) -> Option<Delivery> {
        self.state.lock().unwrap().waiting.front().cloned()
    }

    /// Drops the first delivery waiting (it was made).
    pub fn done(&self) {
        let mut state = self.state.lock().unwrap();
        if let Some(delivery) = state.waiting.pop_front() {
            state.made.push(delivery);
        }
    }

    /// Every delivery made so far, in order, for a test to make again.
    pub fn made(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().made.clone()
    }

    /// Takes every delivery waiting, for a test to make in its own order.
    pub fn take(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().waiting.drain(..).collect()
    }

    /// Every event kept, in order.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().events.clone()
    }

    /// The data (`{"Action": …}`) of every kept event of `action`.
    /// (In its newest edition only: an event published in several
    /// versions counts once.)
    pub fn published(&self, action: &str) -> Vec<Value> {
        let newest = ferry_protocol::Event::CATALOG
            .iter()
            .filter(|(a, _)| *a == action)
            .map(|(_, v)| u64::from(*v))
            .max();
        self.events()
            .into_iter()
            .filter(|e| e["detail-type"] == action)
            .filter(|e| newest.is_none_or(|v| e["detail"]["metadata"]["EventVersion"] == v))
            .map(|e| e["detail"]["data"].clone())
            .collect()
    }
}

/// Whether an event matches a rule's pattern (the two fields the rules
/// use: `source` and `detail-type`, each a list of values).
fn matches(pattern: &Value, event: &Value) -> bool {
    ["source", "detail-type"].iter().all(|field| {
        pattern
            .get(*field)
            .and_then(Value::as_array)
            .is_none_or(|allowed| allowed.contains(&event[*field]))
    })
}

#[async_trait]
impl Bus for MemoryBus {
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()> {
        self.faults.enter("bus.put")?;
        let mut state = self.state.lock().unwrap();
        for entry in entries {
            self.keep(&mut state, entry);
        }
        Ok(())
    }
}

/// The notifier: keeps what it was asked to push.
#[derive(Debug)]
pub struct MemoryNotifier {
    faults: Arc<Faults>,
    pushed: Mutex<Vec<(UserId, EventEnvelope)>>,
    /// The feed: (user, event id, event), its cursor the position plus one.
    feed: Mutex<Vec<(UserId, Uuid, Value)>>,
}

impl MemoryNotifier {
    /// A notifier that has pushed nothing.
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            pushed: Mutex::new(Vec::new()),
            feed: Mutex::new(Vec::new()),
        }
    }

    /// Every push so far: to whom, and what.
    pub fn pushed(&self) -> Vec<(UserId, EventEnvelope)> {
        self.pushed.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn notify(&self, user: &UserId, event: &EventEnvelope) -> PortResult<()> {
        self.faults.enter("notifier.notify")?;
        self.pushed
            .lock()
            .unwrap()
            .push((user.clone(), event.clone()));
        let id = event.metadata().event_id;
        let mut feed = self.feed.lock().unwrap();
        if !feed.iter().any(|(u, e, _)| u == user && *e == id) {
            let body = serde_json::to_value(event).unwrap_or_default();
            feed.push((user.clone(), id, body));
        }
        Ok(())
    }
}

/// The feed the notifier keeps: one cursor sequence for every user, kept
/// for as long as the notifier lives.
#[async_trait]
impl Feed for MemoryNotifier {
    async fn events_after(&self, user: &UserId, after: i64, limit: u32) -> PortResult<FeedPage> {
        self.faults.enter("feed.events_after")?;
        let limit = limit.clamp(1, 1000) as usize;
        let feed = self.feed.lock().unwrap();
        let mut mine = feed
            .iter()
            .zip(1_i64..)
            .filter(|((owner, ..), cursor)| owner == user && *cursor > after)
            .map(|((.., event), cursor)| FeedItem {
                cursor,
                event: event.clone(),
            });
        let events: Vec<FeedItem> = mine.by_ref().take(limit).collect();
        let more = mine.next().is_some();
        let cursor = match events.last() {
            Some(last) if more => last.cursor,
            _ => (feed.len() as i64).max(after),
        };
        Ok(FeedPage {
            events,
            cursor,
            more,
            missed: false,
        })
    }

    async fn latest_cursor(&self, _: &UserId) -> PortResult<i64> {
        self.faults.enter("feed.latest_cursor")?;
        Ok(self.feed.lock().unwrap().len() as i64)
    }

    fn retention(&self) -> Duration {
        Duration::from_secs(7 * 24 * 3600)
    }
}
