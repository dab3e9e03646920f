//! `use_live`: the user's events, live. A WebSocket (`gloo-net`) while it
//! works, with reconnects that back off with jitter and resume from the
//! last cursor, and a heartbeat; polling `/api/events` when the socket
//! can't be used, trying the socket again now and then. What to do when is
//! decided by `ferry_client::live::Live`; this hook only runs the socket
//! and the timers, and stops them all when its component unmounts.
//!
//! One task owns each connection's socket: it forwards what the page sends
//! (hello, resume, ping) and reads what the server says. Dropping the
//! sending side ends the task, and the socket closes with it (`gloo-net`
//! closes a socket it drops), so stopping is forgetting the sender.

use crate::api::files::FilesApi;
use crate::session::Session;
use ferry_client::live::{self, Action, Live, Mode};
use ferry_protocol::EventEnvelope;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::future::{Either, select};
use futures::{SinkExt as _, StreamExt as _};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::cell::RefCell;
use std::rc::Rc;

/// What `use_live` needs.
pub struct UseLiveOptions {
    /// The configuration's `websocketUrl`.
    pub websocket_url: String,
    /// For polling.
    pub api: FilesApi,
    /// For the socket's token.
    pub session: Session,
    /// Called with every event not seen before (by cursor); the caller still
    /// dedupes by event id, since polling and the socket can overlap.
    pub on_event: Rc<dyn Fn(EventEnvelope)>,
    /// Called when the socket says hello (after the first connect and every
    /// reconnect) and when polling starts: a moment to reload what may have
    /// been missed in between.
    pub on_resync: Rc<dyn Fn()>,
    /// Where to say whether it is the socket or polling (the caller's, so
    /// the page can show it before this hook starts).
    pub mode: RwSignal<Mode>,
    /// Where to say whether the socket is open right now.
    pub connected: RwSignal<bool>,
}

impl std::fmt::Debug for UseLiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseLiveOptions")
            .field("websocket_url", &self.websocket_url)
            .finish_non_exhaustive()
    }
}

/// What `use_live` gives back.
#[derive(Debug, Clone, Copy)]
pub struct UseLiveReturn {
    /// Says a command was just sent: while polling, the feed is read now
    /// and every [`HURRY_EVERY`] for a few seconds, so its event shows
    /// sooner than the next regular poll.
    pub nudge: Callback<()>,
}

/// How often the feed is polled after a nudge.
pub const HURRY_EVERY: std::time::Duration = std::time::Duration::from_millis(400);
/// How many quick polls a nudge buys.
const HURRY_POLLS: u32 = 8;

struct Driver {
    options: UseLiveOptions,
    live: Live,
    /// What the page sends on the open connection; `None` between
    /// connections. Dropping it closes the socket.
    outbox: Option<UnboundedSender<String>>,
    /// Counts connections, so a closed one's task can tell it is stale.
    connection: u64,
    timers: Vec<TimeoutHandle>,
    heartbeat: Option<IntervalHandle>,
    polling: bool,
    /// When the current socket said hello (`Date.now()`).
    opened_at: Option<f64>,
    /// The token the current connection was opened with.
    token: String,
    /// Whether the token was renewed (with `forceRefresh`) since the last
    /// connection that said hello: once after refusals, not on every
    /// reconnect while the server is away.
    renewed: bool,
    /// Quick polls left after a nudge.
    hurry: u32,
    /// The next poll's timer, while one waits.
    poll_timer: Option<TimeoutHandle>,
    stopped: bool,
    set_mode: RwSignal<Mode>,
    set_connected: RwSignal<bool>,
}

type Shared = Rc<RefCell<Driver>>;

/// Starts following the user's events; stops when the calling component is
/// unmounted.
pub fn use_live(options: UseLiveOptions) -> UseLiveReturn {
    let (set_mode, set_connected) = (options.mode, options.connected);
    let driver: Shared = Rc::new(RefCell::new(Driver {
        options,
        live: Live::new(live::Backoff::default()),
        outbox: None,
        connection: 0,
        timers: Vec::new(),
        heartbeat: None,
        polling: false,
        opened_at: None,
        token: String::new(),
        renewed: false,
        hurry: 0,
        poll_timer: None,
        stopped: false,
        set_mode,
        set_connected,
    }));
    connect(&driver);
    let beat = driver.clone();
    let heartbeat =
        set_interval_with_handle(move || send(&beat, live::ping()), live::HEARTBEAT).ok();
    driver.borrow_mut().heartbeat = heartbeat;
    let nudged = SendWrapper::new(driver.clone());
    let nudge = Callback::new(move |()| hurry(&nudged));
    let cleanup = SendWrapper::new(driver);
    on_cleanup(move || stop(&cleanup));
    UseLiveReturn { nudge }
}

/// Sends `text` on the open connection, if there is one.
fn send(driver: &Shared, text: String) {
    if let Some(outbox) = &driver.borrow().outbox {
        let _ = outbox.unbounded_send(text);
    }
}

fn hurry(driver: &Shared) {
    let waiting = {
        let mut d = driver.borrow_mut();
        if d.stopped || !d.polling {
            return;
        }
        d.hurry = HURRY_POLLS;
        d.poll_timer.take()
    };
    // A poll waiting on its timer goes now; one under way picks up the
    // hurry when it schedules the next.
    if let Some(timer) = waiting {
        timer.clear();
        schedule_poll(driver, std::time::Duration::ZERO);
    }
}

fn schedule_poll(driver: &Shared, wait: std::time::Duration) {
    let wait = {
        let mut d = driver.borrow_mut();
        if d.hurry > 0 {
            d.hurry -= 1;
            wait.min(HURRY_EVERY)
        } else {
            wait
        }
    };
    let target = driver.clone();
    if let Ok(handle) = set_timeout_with_handle(move || poll(&target), wait) {
        driver.borrow_mut().poll_timer = Some(handle);
    }
}

fn stop(driver: &Shared) {
    let mut d = driver.borrow_mut();
    d.stopped = true;
    // The connection's task ends when its sender goes, closing the socket.
    d.outbox = None;
    for timer in d.timers.drain(..) {
        timer.clear();
    }
    if let Some(timer) = d.poll_timer.take() {
        timer.clear();
    }
    if let Some(heartbeat) = d.heartbeat.take() {
        heartbeat.clear();
    }
}

fn connect(driver: &Shared) {
    let (url, connection) = {
        let mut d = driver.borrow_mut();
        if d.stopped || d.outbox.is_some() {
            return;
        }
        let Some(token) = d.options.session.access_token() else {
            return;
        };
        let separator = if d.options.websocket_url.contains('?') {
            '&'
        } else {
            '?'
        };
        d.connection += 1;
        d.token.clone_from(&token);
        let url = format!(
            "{}{separator}token={}",
            d.options.websocket_url,
            String::from(js_sys::encode_uri_component(&token))
        );
        (url, d.connection)
    };
    let Ok(socket) = WebSocket::open(&url) else {
        closed(driver, connection);
        return;
    };
    let (outbox, mut outgoing) = unbounded::<String>();
    // The client speaks first: API Gateway can't send on a connection until
    // its `$connect` has returned, so the server's hello answers this. The
    // socket sends it once open.
    let _ = outbox.unbounded_send(live::hello());
    driver.borrow_mut().outbox = Some(outbox);
    let driver = driver.clone();
    leptos::task::spawn_local(async move {
        let mut socket = socket;
        loop {
            let next = match select(socket.next(), outgoing.next()).await {
                Either::Left((heard, _)) => Either::Left(heard),
                Either::Right((said, _)) => Either::Right(said),
            };
            match next {
                Either::Left(Some(Ok(Message::Text(text)))) => received(&driver, &text),
                Either::Left(Some(Ok(Message::Bytes(_)))) => {}
                // Closed (with its close code) or failed: reconnect or poll.
                Either::Left(Some(Err(_)) | None) => break,
                Either::Right(Some(text)) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                // The page stopped listening: dropping the socket closes it.
                Either::Right(None) => return,
            }
        }
        drop(socket);
        closed(&driver, connection);
    });
}

fn received(driver: &Shared, text: &str) {
    let Some(message) = live::ServerMessage::parse(text) else {
        return;
    };
    let hello = matches!(message, live::ServerMessage::Hello { .. });
    let (reply, event) = driver.borrow_mut().live.received(&message);
    match reply {
        Some(Action::Send(text)) => send(driver, text),
        Some(Action::Resync) => {
            let resync = driver.borrow().options.on_resync.clone();
            resync();
        }
        _ => {}
    }
    if hello {
        let resync = {
            let mut d = driver.borrow_mut();
            d.opened_at = Some(js_sys::Date::now());
            d.renewed = false;
            d.set_connected.try_set(true);
            d.set_mode.try_set(Mode::Socket);
            d.options.on_resync.clone()
        };
        // What changed between the page's listing and this hello reached
        // no socket: read the folder again (the reload merges by version).
        resync();
    }
    if let Some(event) = event
        && let Ok(envelope) = serde_json::from_value::<EventEnvelope>(event)
    {
        let on_event = driver.borrow().options.on_event.clone();
        on_event(envelope);
    }
}

/// Connection `connection` closed: decide what next, unless the page
/// stopped or a newer connection already replaced it.
fn closed(driver: &Shared, connection: u64) {
    let action = {
        let mut d = driver.borrow_mut();
        if d.stopped || d.connection != connection {
            return;
        }
        d.outbox = None;
        d.set_connected.try_set(false);
        // Refused before its hello: perhaps the token. With the host's
        // provider (whose tokens Ferry can't tell the age of), it is asked
        // for a new one, forced, once until a connection works; the
        // reconnect takes it. Ferry's own tokens are renewed on time.
        if d.opened_at.is_none() && !d.renewed && d.options.session.is_provided() {
            d.renewed = true;
            let (session, token) = (d.options.session, d.token.clone());
            leptos::task::spawn_local(async move {
                session.refresh_after_unauthorized(&token, true).await;
            });
        }
        let open_for = d
            .opened_at
            .take()
            .map(|at| {
                std::time::Duration::from_secs_f64(((js_sys::Date::now() - at) / 1000.0).max(0.0))
            })
            .unwrap_or_default();
        let action = d.live.closed(js_sys::Math::random(), open_for);
        d.set_mode.try_set(d.live.mode());
        action
    };
    run(driver, action);
}

fn run(driver: &Shared, action: Action) {
    match action {
        Action::Send(_) | Action::Resync => {}
        Action::Connect(wait) => later(driver, wait, connect),
        Action::Poll(wait, _) => {
            if driver.borrow().polling {
                // A poll loop is already running; the socket gets its next
                // try a while from now.
                later(driver, Live::SOCKET_RETRY, connect);
                return;
            }
            driver.borrow_mut().polling = true;
            let resync = driver.borrow().options.on_resync.clone();
            resync();
            schedule_poll(driver, wait);
            later(driver, Live::SOCKET_RETRY, connect);
        }
    }
}

fn later(driver: &Shared, wait: std::time::Duration, then: fn(&Shared)) {
    let target = driver.clone();
    if let Ok(handle) = set_timeout_with_handle(move || then(&target), wait) {
        let mut d = driver.borrow_mut();
        d.timers.push(handle);
        // Keep the list short: fired timers need no clearing.
        let excess = d.timers.len().saturating_sub(16);
        d.timers.drain(..excess);
    }
}

fn poll(driver: &Shared) {
    {
        let mut d = driver.borrow_mut();
        d.poll_timer = None;
        if d.stopped || d.live.mode() == Mode::Socket {
            d.polling = false;
            return;
        }
    }
    let driver = driver.clone();
    leptos::task::spawn_local(async move {
        let (api, cursor) = {
            let d = driver.borrow();
            (d.options.api.clone(), d.live.cursor())
        };
        let page = api.events(cursor).await;
        if driver.borrow().stopped {
            return;
        }
        let next = match page {
            Ok(page) => {
                let (on_event, on_resync) = {
                    let d = driver.borrow();
                    (d.options.on_event.clone(), d.options.on_resync.clone())
                };
                if page.missed {
                    // Events were dropped for age before this poll read them.
                    on_resync();
                }
                for item in page.events {
                    if let Ok(envelope) = serde_json::from_value::<EventEnvelope>(item.event) {
                        on_event(envelope);
                    }
                }
                let action = driver.borrow_mut().live.polled(page.cursor);
                match action {
                    Action::Poll(_, _) if page.more => std::time::Duration::ZERO,
                    Action::Poll(wait, _) => wait,
                    _ => Live::POLL_EVERY,
                }
            }
            Err(_) => Live::POLL_EVERY * 2,
        };
        schedule_poll(&driver, next);
    });
}
