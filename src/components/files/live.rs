//! The file browser's live events, a chunk of their own: loaded once the
//! folder's first page is asked for, so the list shows without waiting for
//! the WebSocket, the event types and the reducer's event rules. Each event
//! is applied to the rows, the uploads and Activity (`Actions::apply`).

use super::Ctx;
use super::actions::Actions;
use crate::api::files::FilesApi;
use crate::chunks;
use crate::hooks::use_live::{UseLiveOptions, use_live};
use crate::hooks::use_uploads::UseUploads;
use crate::host::Host;
use crate::session::Session;
use ferry_client::folder::{created, created_v1};
use ferry_client::live::Mode;
use ferry_client::undo::Undo;
use ferry_protocol::host::{FileChangedV1, UploadCompleteV1};
use leptos::prelude::*;
use std::rc::Rc;

/// What the live connection needs from its browser. All handles but the
/// URL and the API.
#[derive(Debug, Clone)]
pub struct LiveStart {
    /// The browser's view state.
    pub ctx: Ctx,
    /// Its actions (events are applied through them).
    pub actions: Actions,
    /// Its uploads (a `FileCreated` ends one).
    pub uploads: UseUploads,
    /// The session, for the socket's token.
    pub session: Session,
    /// The API, for polling.
    pub api: FilesApi,
    /// The configuration's `websocketUrl`.
    pub websocket_url: String,
    /// Socket or polling, shown in the toolbar.
    pub mode: RwSignal<Mode>,
    /// Whether the socket is open.
    pub connected: RwSignal<bool>,
    /// The page around this instance (uploads completed, files changed).
    pub host: Host,
}

chunks::split_point! {
    live =>
    /// Loads the live connection: the live chunk's entry.
    pub fn live_starter() -> fn(LiveStart) {
        start
    }
}

/// Starts following the events, in the calling owner (the browser), so it
/// stops when the browser unmounts.
fn start(args: LiveStart) {
    let LiveStart {
        ctx,
        actions,
        uploads,
        session,
        api,
        websocket_url,
        mode,
        connected,
        host,
    } = args;
    let notices = ctx.notices;
    let live = use_live(UseLiveOptions {
        websocket_url,
        api,
        session,
        on_event: Rc::new(move |envelope| {
            let upload = created(envelope.data()).filter(|c| uploads.indexed(c.file_id));
            if let Some(created) = &upload {
                notices.say(format!("{} uploaded", created.name));
                host.emit_event(&UploadCompleteV1::from(&created_v1(created)));
            }
            actions.apply(&envelope);
            // An upload of this page's that replaced a file can be undone.
            if let Some(created) = &upload
                && let Some(offer) =
                    Undo::unasked(envelope.data(), format!("Replaced {}", created.name))
            {
                actions.offer(offer);
            }
            if let Some(changed) = FileChangedV1::from_event(envelope.data()) {
                host.emit_event(&changed);
            }
        }),
        on_resync: Rc::new(move || actions.reload()),
        mode,
        connected,
    });
    actions.set_nudge(live.nudge);
}
