//! In-memory ports, so the domain's rules are tested natively and in
//! milliseconds: an [`MemoryIndex`] that keeps the index contract (it runs
//! the [`conformance`](crate::conformance) suite too), an object store, a
//! bus and a notifier, and [`MemoryStack`], the service and the consumers
//! wired over them with a [`ManualClock`]. (Built with the `testing`
//! feature, for tests only.)
//!
//! Every port call goes through one shared [`Faults`], which counts the
//! calls and can make the Nth one fail: a consumer stops at the failed step
//! as a crash would stop it there, so a test can stop it between any two of
//! its steps and check what a redelivery makes of it.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod bus;
mod index;
mod objects;
mod thumbnailer;

pub use bus::{Delivery, MemoryBus, MemoryNotifier};
pub use index::MemoryIndex;
pub use objects::MemoryObjects;
pub use thumbnailer::MemoryThumbnailer;

use crate::clock::ManualClock;
use crate::consumers::{Consumers, Retry};
use crate::model::UserId;
use crate::ports::{PortError, PortResult};
use crate::service::{Caller, FileSettings, Files};
use ferry_protocol::{Command, CommandEnvelope, Metadata, Timestamp, TraceId};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The calls the ports have answered, and the one planned to fail.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Every call so far, by name (`index.update_file`, `bus.put`, …).
    calls: Vec<&'static str>,
    /// The 1-based number of the call that fails.
    fail_at: Option<usize>,
}

impl Faults {
    /// No failure planned.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Makes the `n`th call from now (1-based) fail with
    /// [`PortError::Unavailable`], as if the process had stopped there.
    pub fn fail_call(&self, n: usize) {
        let mut state = self.state.lock().unwrap();
        state.fail_at = Some(state.calls.len() + n);
    }

    /// Cancels a planned failure that hasn't happened.
    pub fn clear(&self) {
        self.state.lock().unwrap().fail_at = None;
    }

    /// How many calls the ports have answered (or failed).
    pub fn count(&self) -> usize {
        self.state.lock().unwrap().calls.len()
    }

    /// The names of the calls after the first `from`.
    pub fn calls_since(&self, from: usize) -> Vec<&'static str> {
        self.state.lock().unwrap().calls[from..].to_vec()
    }

    /// Counts a call to `operation`; fails it when it is the planned one.
    pub(crate) fn enter(&self, operation: &'static str) -> PortResult<()> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(operation);
        if state.fail_at == Some(state.calls.len()) {
            state.fail_at = None;
            return Err(PortError::Unavailable(format!(
                "{operation} failed on purpose (call {})",
                state.calls.len()
            )));
        }
        Ok(())
    }
}

/// The start of every [`MemoryStack`]'s clock: 2026-01-01.
pub const START: i64 = 1_767_225_600;

/// The file service and the consumers over in-memory ports.
#[derive(Debug)]
pub struct MemoryStack {
    /// The clock every port and both sides read.
    pub clock: Arc<ManualClock>,
    /// The fault plan every port shares.
    pub faults: Arc<Faults>,
    /// The object store.
    pub objects: Arc<MemoryObjects>,
    /// The index.
    pub index: Arc<MemoryIndex>,
    /// The bus, with every rule of [`crate::consumers::rules`].
    pub bus: Arc<MemoryBus>,
    /// The notifier.
    pub notifier: Arc<MemoryNotifier>,
    /// The file service.
    pub files: Files,
    /// The consumers, with a [`MemoryThumbnailer`].
    pub consumers: Consumers,
}

impl Default for MemoryStack {
    fn default() -> Self {
        Self::new(FileSettings::default())
    }
}

impl MemoryStack {
    /// A stack with `settings`, its clock at [`START`].
    pub fn new(settings: FileSettings) -> Self {
        let clock = Arc::new(ManualClock::new(START));
        let faults = Faults::new();
        let bus = Arc::new(MemoryBus::new(faults.clone()));
        let objects = Arc::new(MemoryObjects::new(
            faults.clone(),
            bus.clone(),
            clock.clone(),
        ));
        let index = Arc::new(MemoryIndex::new(faults.clone()));
        let notifier = Arc::new(MemoryNotifier::new(faults.clone()));
        let files = Files::new(
            objects.clone(),
            index.clone(),
            bus.clone(),
            clock.clone(),
            settings,
        )
        .with_thumbnailer(Arc::new(MemoryThumbnailer::default()));
        let consumers = Consumers::new(
            objects.clone(),
            index.clone(),
            bus.clone(),
            notifier.clone(),
            clock.clone(),
        )
        .with_thumbnailer(Arc::new(MemoryThumbnailer::default()));
        Self {
            clock,
            faults,
            objects,
            index,
            bus,
            notifier,
            files,
            consumers,
        }
    }

    /// Delivers what is waiting on the bus, and what that publishes, until
    /// nothing is. A delivery that fails stays first in line and its error
    /// is returned: calling again redelivers it.
    pub async fn settle(&self) -> Result<(), Retry> {
        while let Some(delivery) = self.bus.next() {
            self.deliver(&delivery).await?;
            self.bus.done();
        }
        Ok(())
    }

    /// Delivers one event to its rule's consumer, as the bus would.
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), Retry> {
        self.consumers
            .deliver(&delivery.rule, &delivery.event)
            .await
    }
}

/// A caller of the file service.
pub fn caller(sub: &str) -> Caller {
    Caller {
        user: UserId::parse(sub).unwrap(),
        trace_id: TraceId::from_uuid(Uuid::new_v4()),
    }
}

/// A command from `caller` with a fresh id, and its body as sent.
pub fn command(caller: &Caller, command: Command) -> (CommandEnvelope, Vec<u8>) {
    let id = Uuid::new_v4();
    let envelope = CommandEnvelope::new(
        Metadata {
            event_id: id,
            trace_id: caller.trace_id.clone(),
            command_id: Some(id),
            occurred_at: Timestamp::new(time::OffsetDateTime::UNIX_EPOCH),
            producer: "test".to_owned(),
            user_id: Some(caller.user.as_str().to_owned()),
        },
        command,
    );
    let raw = serde_json::to_vec(&envelope).unwrap();
    (envelope, raw)
}
