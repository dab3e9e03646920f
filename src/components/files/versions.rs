//! The versions panel: a file's earlier versions with their size, time,
//! SHA-256 and who uploaded them, each to download, make current again, or
//! delete forever (after a second click). It follows the file as versions
//! change it (a restore or an upload gives the current file a new id).
//!
//! It is in the Trash view's chunk (`trash`, loaded when either is first
//! opened), not one of its own: with a thirteenth split, wasm-split 0.2.3
//! left every chunk's data in the first load (20 KB gzip more, measured).

use super::actions::Actions;
use crate::chunks;
use crate::components::modal::Modal;
use crate::platform::{local_time, new_id};
use ferry_client::folder::created;
use ferry_client::format;
use ferry_client::rows::{RowKind, RowView};
use ferry_client::trash::version_names;
use ferry_protocol::api::{FileView, VersionsPage};
use ferry_protocol::messages::{DeleteVersionV1, RestoreVersionV1};
use ferry_protocol::{Command, Event, EventEnvelope};
use leptos::prelude::*;
use uuid::Uuid;

chunks::split_point! {
    trash =>
    /// Loads the versions panel: the trash chunk's second entry, with the
    /// panel for a file's row and the signed-in user's name.
    pub fn versions_panel() -> fn(Actions, RowView, String) -> AnyView {
        |actions, row, user| view! { <Versions actions=actions row=row user=user /> }.into_any()
    }
}

/// A file's versions, in a dialog.
#[component]
fn Versions(actions: Actions, row: RowView, user: String) -> impl IntoView {
    let ctx = actions.ctx();
    let close = Callback::new(move |()| ctx.dialog.set(None));
    let first = match row.kind {
        RowKind::File(file_id) => file_id,
        RowKind::Folder(_) => Uuid::nil(),
    };
    // The current file: a restore or an upload makes another one current.
    let current = RwSignal::new(first);
    let page = RwSignal::new(None::<Result<VersionsPage, String>>);
    // The version asked about before it is deleted forever.
    let confirming = RwSignal::new(None::<Uuid>);
    let load = move || {
        let api = actions.outbox().api();
        let file_id = current.get_untracked();
        leptos::task::spawn_local(async move {
            let read = api.versions(file_id).await.map_err(|f| f.to_string());
            if current.try_get_untracked() == Some(file_id) {
                page.try_set(Some(read));
            }
        });
    };
    load();

    actions.listen(Callback::new(move |envelope: EventEnvelope| {
        let Some(now) = current.try_get_untracked() else {
            return false;
        };
        let shown = |id: Uuid| {
            page.with_untracked(|p| {
                p.as_ref()
                    .and_then(|p| p.as_ref().ok())
                    .is_some_and(|p| p.versions.iter().any(|v| v.file_id == id))
            })
        };
        let follow = match envelope.data() {
            Event::FileVersionRestored(r) if r.replaced == now || r.file_id == now => {
                Some(r.file_id)
            }
            Event::FileCreated(_) | Event::FileCreatedV1(_) => created(envelope.data())
                .filter(|c| c.replaced == Some(now))
                .map(|c| c.file_id),
            Event::FileDeleted(d) if shown(d.file_id) => Some(now),
            Event::FileMoved(m) if m.file_id == now => Some(now),
            Event::FileTrashed(t) if t.file_id == now => {
                ctx.dialog.try_set(None);
                None
            }
            _ => None,
        };
        if let Some(next) = follow {
            current.try_set(next);
            load();
        }
        false
    }));

    let name = row.name.clone();
    let panel = move || {
        match page.get() {
        None => view! { <p role="status" class="ferry-muted">"Loading versions…"</p> }.into_any(),
        Some(Err(message)) => {
            view! { <p class="ferry-field-error">{format!("The versions couldn't be loaded: {message}")}</p> }.into_any()
        }
        Some(Ok(page)) => {
            let terms = format!(
                "Ferry keeps up to {} earlier versions of a file, each for {} days after it was replaced. They count toward your storage.",
                page.keep_versions, page.version_days
            );
            let times: Vec<String> = page
                .versions
                .iter()
                .map(|v| local_time(v.created_at.unix_millis(), true))
                .collect();
            let names = version_names(&times);
            let current_file = page.file.clone();
            let list = if page.versions.is_empty() {
                view! { <p class="ferry-muted">"There are no earlier versions of this file."</p> }
                    .into_any()
            } else {
                let user = user.clone();
                view! {
                    <ul class="ferry-versions" aria-label="Earlier versions">
                        {page.versions.into_iter().zip(names).map(|(version, when)| {
                            version_row(actions, &current_file, version, when, &user, confirming)
                        }).collect_view()}
                    </ul>
                }
                .into_any()
            };
            view! {
                <p class="ferry-muted">{terms}</p>
                <h3 class="ferry-subtitle">"Current"</h3>
                {facts(&page.file, &local_time(page.file.created_at.unix_millis(), true), &user)}
                <h3 class="ferry-subtitle">"Earlier versions"</h3>
                {list}
            }
            .into_any()
        }
    }
    };
    view! {
        <Modal title=format!("Versions of {name}") on_close=close>
            <div class="ferry-versions-panel">{panel}</div>
            <div class="ferry-dialog-buttons">
                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Close"</button>
            </div>
        </Modal>
    }
}

/// Size, time, uploader and SHA-256 of one version.
fn facts(file: &FileView, when: &str, user: &str) -> impl IntoView + use<> {
    let sha = file
        .sha256
        .clone()
        .unwrap_or_else(|| "not known".to_owned());
    view! {
        <dl class="ferry-version-facts">
            <dt>"Uploaded"</dt><dd>{when.to_owned()}</dd>
            <dt>"By"</dt><dd>{user.to_owned()}</dd>
            <dt>"Size"</dt><dd>{format::bytes(file.size)}</dd>
            <dt>"SHA-256"</dt><dd><code class="ferry-sha">{sha}</code></dd>
        </dl>
    }
}

/// One earlier version, with its controls named after its time.
fn version_row(
    actions: Actions,
    current: &FileView,
    version: FileView,
    when: String,
    user: &str,
    confirming: RwSignal<Option<Uuid>>,
) -> impl IntoView + use<> {
    let notices = actions.ctx().notices;
    let (current_id, name) = (current.file_id, current.name.as_str().to_owned());
    let version_id = version.file_id;
    let download_name = version.name.as_str().to_owned();
    let restore = {
        let (when, name) = (when.clone(), name.clone());
        move |_| {
            let command_id = new_id();
            actions.watch(
                &[command_id],
                format!("Restored the version of {name} from {when}"),
            );
            notices.say(format!("Restoring the version of {name} from {when}…"));
            let command = Command::RestoreVersion(RestoreVersionV1 {
                file_id: current_id,
                version_id,
            });
            let name = name.clone();
            leptos::task::spawn_local(async move {
                actions.send(command, command_id, &name).await;
            });
        }
    };
    let delete = {
        let (when, name) = (when.clone(), name.clone());
        move |_| {
            confirming.set(None);
            notices.say(format!(
                "Deleting the version of {name} from {when} forever…"
            ));
            let command = Command::DeleteVersion(DeleteVersionV1 {
                file_id: current_id,
                version_id,
            });
            let name = name.clone();
            leptos::task::spawn_local(async move {
                actions.send(command, new_id(), &name).await;
            });
        }
    };
    let asking = move || confirming.get() == Some(version_id);
    let labels = (
        format!("Download version from {when}"),
        format!("Restore version from {when}"),
        format!("Delete version from {when}"),
        format!("Delete version from {when} forever"),
        format!("Keep version from {when}"),
    );
    view! {
        <li class="ferry-version">
            {facts(&version, &when, user)}
            <div class="ferry-version-actions">
                <button type="button" class="ferry-button" aria-label=labels.0
                    on:click=move |_| actions.download(version_id, &download_name)>"Download"</button>
                <button type="button" class="ferry-button" aria-label=labels.1 on:click=restore>"Restore"</button>
                <Show when=move || !asking()>
                    <button type="button" class="ferry-button ferry-danger-button" aria-label=labels.2.clone()
                        on:click=move |_| confirming.set(Some(version_id))>"Delete"</button>
                </Show>
                <Show when=asking>
                    <span>"Delete this version forever?"</span>
                    <button type="button" class="ferry-button ferry-danger-button" aria-label=labels.3.clone()
                        on:click=delete.clone()>"Delete forever"</button>
                    <button type="button" class="ferry-link" aria-label=labels.4.clone()
                        on:click=move |_| confirming.set(None)>"Keep it"</button>
                </Show>
            </div>
        </li>
    }
}
