//! The live connection's logic: what the WebSocket says, when to reconnect,
//! when to give up on the socket and poll instead, and where to resume.
//!
//! The socket itself (a browser `WebSocket`) and the timers live in the
//! components' hooks; this module only decides, so it is tested natively.
//!
//! - Reconnects back off exponentially with full jitter, so a fleet of
//!   browsers doesn't reconnect in step after an outage.
//! - Every reconnect resumes after the last cursor seen: nothing is missed.
//! - A socket that is refused or keeps closing early (a proxy that doesn't
//!   pass WebSockets, a corporate firewall) is given up for polling; the
//!   socket is tried again now and then, and wins as soon as it holds.

use ferry_protocol::live::ClientMessage;
pub use ferry_protocol::live::ServerMessage;
use serde_json::Value;
use std::time::Duration;

/// The first message on a new connection; the server answers with its
/// hello (and the newest cursor).
pub fn hello() -> String {
    ClientMessage::Hello { version: None }.to_text()
}

/// The message asking for everything after `cursor`.
pub fn resume(cursor: i64) -> String {
    ClientMessage::Resume { after: cursor }.to_text()
}

/// The keep-alive message. API Gateway closes a connection idle for 10
/// minutes, so the client speaks at least every [`HEARTBEAT`].
pub fn ping() -> String {
    ClientMessage::Ping.to_text()
}

/// How often the client pings.
pub const HEARTBEAT: Duration = Duration::from_secs(5 * 60);

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before attempt `failures + 1`; `unit` is a random number in
    /// `[0, 1)` (full jitter).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(failures.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// How the client learns about its commands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Through the WebSocket.
    Socket,
    /// By polling `/api/events` (and command status), the socket having
    /// failed too often; it is tried again every [`Live::SOCKET_RETRY`].
    Polling,
}

/// What the connection logic asks its driver to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the socket after this wait.
    Connect(Duration),
    /// Send this text on the open socket.
    Send(String),
    /// Poll the feed after this wait, from this cursor.
    Poll(Duration, i64),
    /// Read what is shown again: events were missed.
    Resync,
}

/// The live connection's state.
#[derive(Debug, Clone)]
pub struct Live {
    backoff: Backoff,
    mode: Mode,
    cursor: i64,
    /// Connections in a row that failed or closed before holding.
    failures: u32,
    /// Whether the current socket said hello.
    open: bool,
    /// Cursors of recent events. Concurrent producers can push events out
    /// of cursor order, so a lower cursor than the newest is not proof of
    /// a duplicate: only a cursor seen before is.
    seen: std::collections::HashSet<i64>,
    seen_order: std::collections::VecDeque<i64>,
}

/// How many event cursors are remembered for deduplication.
const SEEN_CURSORS: usize = 2048;

impl Live {
    /// Failures in a row after which the client polls instead.
    pub const GIVE_UP_AFTER: u32 = 4;
    /// How often, while polling, the socket is tried again.
    pub const SOCKET_RETRY: Duration = Duration::from_secs(60);
    /// How often the feed is polled.
    pub const POLL_EVERY: Duration = Duration::from_secs(3);
    /// How long a socket must stay open to count as holding.
    pub const HELD: Duration = Duration::from_secs(30);

    /// A fresh state: connect now.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            mode: Mode::Socket,
            cursor: 0,
            failures: 0,
            open: false,
            seen: Default::default(),
            seen_order: Default::default(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The last cursor seen.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Starts from a known cursor (e.g. kept from an earlier page load).
    pub fn with_cursor(mut self, cursor: i64) -> Self {
        self.cursor = cursor;
        self
    }

    /// A message arrived. Returns what to send back, if anything, and the
    /// event to apply, if its cursor wasn't seen yet (events can arrive out
    /// of cursor order; what applies them still dedupes by event id).
    pub fn received(&mut self, message: &ServerMessage) -> (Option<Action>, Option<Value>) {
        match message {
            ServerMessage::Hello { cursor, .. } => {
                self.open = true;
                self.mode = Mode::Socket;
                let first_time = self.cursor == 0;
                if first_time {
                    // Nothing to catch up on: start from now.
                    self.cursor = cursor.unwrap_or(0);
                    (None, None)
                } else {
                    (Some(Action::Send(resume(self.cursor))), None)
                }
            }
            ServerMessage::Event { cursor, event, .. } => {
                if !self.seen.insert(*cursor) {
                    return (None, None);
                }
                self.seen_order.push_back(*cursor);
                if self.seen_order.len() > SEEN_CURSORS
                    && let Some(old) = self.seen_order.pop_front()
                {
                    self.seen.remove(&old);
                }
                self.cursor = self.cursor.max(*cursor);
                (None, event.clone())
            }
            ServerMessage::Resumed { cursor, missed } => {
                self.cursor = self.cursor.max(*cursor);
                (missed.then_some(Action::Resync), None)
            }
            ServerMessage::Pong | ServerMessage::Error { .. } => (None, None),
        }
    }

    /// The socket closed or could not open, `open_for` after its hello
    /// (zero without one). `unit` is a random number in `[0, 1)`.
    pub fn closed(&mut self, unit: f64, open_for: Duration) -> Action {
        if self.open && open_for >= Self::HELD {
            // It held: reconnect soon, as if for the first time.
            self.failures = 0;
        } else {
            // Refused, or closing again right after it opened (a proxy
            // that cuts WebSockets): both count towards polling.
            self.failures += 1;
        }
        self.open = false;
        if self.failures >= Self::GIVE_UP_AFTER {
            self.mode = Mode::Polling;
            return Action::Poll(Duration::ZERO, self.cursor);
        }
        Action::Connect(self.backoff.delay(self.failures, unit))
    }

    /// A poll of the feed returned events up to `cursor`; what next.
    pub fn polled(&mut self, cursor: i64) -> Action {
        self.cursor = self.cursor.max(cursor);
        Action::Poll(Self::POLL_EVERY, self.cursor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_resume_past_the_feeds_retention_asks_for_a_resync() {
        let missed =
            ServerMessage::parse(r#"{"type":"resumed","cursor":9,"missed":true}"#).unwrap();
        assert_eq!(
            missed,
            ServerMessage::Resumed {
                cursor: 9,
                missed: true
            }
        );
        let mut live = Live::new(Backoff::default()).with_cursor(2);
        assert_eq!(live.received(&missed), (Some(Action::Resync), None));
        assert_eq!(live.cursor(), 9);
        let whole = ServerMessage::parse(r#"{"type":"resumed","cursor":12}"#).unwrap();
        assert_eq!(live.received(&whole), (None, None));
        assert_eq!(live.cursor(), 12);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0, 0.999_999).as_millis(), 499);
        assert_eq!(backoff.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(backoff.delay(30, 1.0), Duration::from_secs(30));
        assert_eq!(backoff.delay(5, 0.0), Duration::ZERO);
    }

    #[test]
    fn a_reconnect_resumes_after_the_last_cursor_and_skips_what_it_saw() {
        let mut live = Live::new(Backoff::default());
        assert_eq!(
            live.received(&ServerMessage::Hello {
                cursor: Some(10),
                version: 1
            }),
            (None, None)
        );
        let (_, event) = live.received(&ServerMessage::event(11, Value::from(1)));
        assert_eq!(event, Some(Value::from(1)));
        assert!(matches!(
            live.closed(0.5, Duration::ZERO),
            Action::Connect(_)
        ));
        let (action, _) = live.received(&ServerMessage::Hello {
            cursor: Some(14),
            version: 1,
        });
        assert_eq!(action, Some(Action::Send(resume(11))));
        // A duplicate of what was seen is skipped; newer ones apply.
        assert_eq!(
            live.received(&ServerMessage::event(11, Value::from(1))).1,
            None
        );
        assert_eq!(
            live.received(&ServerMessage::event(13, Value::from(3))).1,
            Some(Value::from(3))
        );
        // Out of order (two producers raced): a lower cursor never seen
        // still applies, and the resume point stays the newest.
        assert_eq!(
            live.received(&ServerMessage::event(12, Value::from(2))).1,
            Some(Value::from(2))
        );
        assert_eq!(live.cursor(), 13);
        live.received(&ServerMessage::Resumed {
            cursor: 14,
            missed: false,
        });
        assert_eq!(live.cursor(), 14);
    }

    #[test]
    fn a_socket_that_keeps_failing_gives_way_to_polling_and_comes_back() {
        let mut live = Live::new(Backoff::default()).with_cursor(5);
        for _ in 1..Live::GIVE_UP_AFTER {
            assert!(matches!(
                live.closed(0.5, Duration::ZERO),
                Action::Connect(_)
            ));
        }
        assert_eq!(
            live.closed(0.5, Duration::ZERO),
            Action::Poll(Duration::ZERO, 5)
        );
        assert_eq!(live.mode(), Mode::Polling);
        assert_eq!(live.polled(9), Action::Poll(Live::POLL_EVERY, 9));
        // The socket is tried again and holds.
        let (action, _) = live.received(&ServerMessage::Hello {
            cursor: Some(12),
            version: 1,
        });
        assert_eq!(action, Some(Action::Send(resume(9))));
        assert_eq!(live.mode(), Mode::Socket);
        // A connection that held resets the count.
        assert!(matches!(live.closed(0.5, Live::HELD), Action::Connect(_)));
        assert_eq!(live.mode(), Mode::Socket);
    }

    #[test]
    fn a_socket_that_keeps_closing_right_after_hello_gives_way_to_polling() {
        let mut live = Live::new(Backoff::default());
        for _ in 1..Live::GIVE_UP_AFTER {
            live.received(&ServerMessage::Hello {
                cursor: Some(1),
                version: 1,
            });
            assert!(matches!(
                live.closed(0.5, Duration::from_secs(1)),
                Action::Connect(_)
            ));
        }
        live.received(&ServerMessage::Hello {
            cursor: Some(1),
            version: 1,
        });
        assert!(matches!(
            live.closed(0.5, Duration::from_secs(1)),
            Action::Poll(_, _)
        ));
        assert_eq!(live.mode(), Mode::Polling);
    }
}
