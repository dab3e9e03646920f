//! The Trash view, a chunk of its own (`trash`, with the versions panel;
//! loaded when either is first opened): what was deleted, where it was,
//! when, and how much it holds; each item restored or deleted forever, and
//! the whole trash emptied after a question. A restore whose name is taken
//! asks the same question as an upload's (`components::conflict`) and is
//! sent again with the answer. The list follows the events (`TrashState`).

use super::actions::Actions;
use crate::chunks;
use crate::components::conflict::ConflictQuestion;
use crate::components::modal::Modal;
use crate::platform::{local_time, new_id};
use ferry_client::trash::{TrashApplied, TrashState, item_place, item_size, trash_terms};
use ferry_protocol::api::TrashItemView;
use ferry_protocol::messages::{
    ConflictPolicy, EmptyTrashV1, PurgeTrashItemV1, RestoreTrashItemV1,
};
use ferry_protocol::{Command, ErrorCode, Event, EventEnvelope};
use leptos::prelude::*;
use uuid::Uuid;

chunks::split_point! {
    trash =>
    /// Loads the Trash view: the trash chunk's entry. `open` closes it.
    pub fn trash_view() -> fn(Actions, RwSignal<bool>) -> AnyView {
        |actions, open| view! { <Trash actions=actions open=open /> }.into_any()
    }
}

/// How the trash is loading.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Loading,
    Ready,
    Failed(String),
}

/// A restore sent: its command, its item and the item's name.
type Restoring = (Uuid, Uuid, String);

/// The Trash view.
#[component]
fn Trash(actions: Actions, open: RwSignal<bool>) -> impl IntoView {
    let state = RwSignal::new(TrashState::default());
    let phase = RwSignal::new(Phase::Loading);
    let restoring: StoredValue<Vec<Restoring>> = StoredValue::new(Vec::new());
    // A restore whose name was taken: the item and its name.
    let asking = RwSignal::new(None::<(Uuid, String)>);
    let confirm_empty = RwSignal::new(false);
    // Items with a restore or a deletion sent, until they leave (or fail).
    let busy = RwSignal::new(Vec::<Uuid>::new());
    let notices = actions.ctx().notices;

    let load = move |more: bool| {
        let api = actions.outbox().api();
        let cursor = if more {
            state.with_untracked(|s| s.next_cursor.clone())
        } else {
            None
        };
        leptos::task::spawn_local(async move {
            match api.trash(cursor.as_deref()).await {
                Ok(page) => {
                    state.try_update(|s| {
                        if more {
                            s.load_page(page)
                        } else {
                            s.load_first(page)
                        }
                    });
                    phase.try_set(Phase::Ready);
                }
                Err(failure) => {
                    phase.try_set(Phase::Failed(failure.to_string()));
                }
            }
        });
    };
    load(false);

    actions.listen(Callback::new(move |envelope: EventEnvelope| {
        let applied = state
            .try_update(|s| s.apply(&envelope))
            .unwrap_or(TrashApplied::Nothing);
        if let Event::CommandFailed(_) = envelope.data() {
            // Whatever failed, the items are there to try again.
            busy.try_set(Vec::new());
        }
        if applied == TrashApplied::Reload {
            load(false);
        }
        // A restore of ours refused for a taken name: asked here instead.
        if let Event::CommandFailed(failed) = envelope.data()
            && failed.code == ErrorCode::Conflict
            && let Some(command_id) = envelope.metadata().command_id
            && let Some(Some((_, trash_id, name))) =
                restoring.try_with_value(|r| r.iter().find(|(id, _, _)| *id == command_id).cloned())
        {
            asking.try_set(Some((trash_id, name)));
            return true;
        }
        false
    }));

    let restore = move |trash_id: Uuid, name: String, on_conflict: ConflictPolicy| {
        busy.update(|b| b.push(trash_id));
        let command_id = new_id();
        restoring.update_value(|r| r.push((command_id, trash_id, name.clone())));
        actions.watch(&[command_id], format!("Restored {name}"));
        notices.say(format!("Restoring {name}…"));
        let command = Command::RestoreTrashItem(RestoreTrashItemV1 {
            trash_id,
            on_conflict,
        });
        leptos::task::spawn_local(async move {
            if !actions.send(command, command_id, &name).await {
                busy.try_update(|b| b.retain(|id| *id != trash_id));
            }
        });
    };
    let purge = move |trash_id: Uuid, name: String| {
        busy.update(|b| b.push(trash_id));
        notices.say(format!("Deleting {name} forever…"));
        let command = Command::PurgeTrashItem(PurgeTrashItemV1 { trash_id });
        leptos::task::spawn_local(async move {
            if !actions.send(command, new_id(), &name).await {
                busy.try_update(|b| b.retain(|id| *id != trash_id));
            }
        });
    };
    let empty = move || {
        confirm_empty.set(false);
        notices.say("Emptying the trash…");
        leptos::task::spawn_local(async move {
            actions
                .send(Command::EmptyTrash(EmptyTrashV1 {}), new_id(), "")
                .await;
        });
    };

    let row = move |item: TrashItemView| {
        let name = item.name.clone();
        let (restore_name, purge_name) = (name.clone(), name.clone());
        let trash_id = item.trash_id;
        let sent = move || busy.with(|b| b.contains(&trash_id));
        let kind = if item.kind == "folder" {
            "Folder"
        } else {
            "File"
        };
        view! {
            <tr>
                <th scope="row" class="ferry-trash-name">
                    <span aria-hidden="true" class=if item.kind == "folder" { "ferry-icon ferry-icon-folder" } else { "ferry-icon ferry-icon-file" }></span>
                    <span class="ferry-visually-hidden">{format!("{kind}: ")}</span>
                    {name.clone()}
                </th>
                <td>{item_place(&item)}</td>
                <td>{local_time(item.trashed_at.unix_millis(), false)}</td>
                <td>{item_size(&item)}</td>
                <td class="ferry-trash-actions">
                    <button type="button" class="ferry-button" aria-label=format!("Restore {name}")
                        disabled=sent
                        on:click=move |_| restore(trash_id, restore_name.clone(), ConflictPolicy::Fail)>"Restore"</button>
                    <button type="button" class="ferry-button ferry-danger-button" aria-label=format!("Delete {name} forever")
                        disabled=sent
                        on:click=move |_| purge(trash_id, purge_name.clone())>"Delete forever"</button>
                </td>
            </tr>
        }
    };

    let list = move || match phase.get() {
        Phase::Loading => {
            view! { <p role="status" class="ferry-muted">"Loading the trash…"</p> }.into_any()
        }
        Phase::Failed(message) => view! {
            <div class="ferry-empty">
                <p>{format!("The trash couldn't be loaded: {message}")}</p>
                <button type="button" class="ferry-button" on:click=move |_| {
                    phase.set(Phase::Loading);
                    load(false);
                }>"Try again"</button>
            </div>
        }
        .into_any(),
        Phase::Ready if state.with(TrashState::is_empty) => {
            view! { <p class="ferry-empty">"The trash is empty."</p> }.into_any()
        }
        Phase::Ready => {
            let items: Vec<TrashItemView> =
                state.with(|s| s.items().into_iter().cloned().collect());
            let more = state.with(|s| s.next_cursor.is_some());
            view! {
                <table class="ferry-trash-table">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Was in"</th>
                            <th scope="col">"Deleted"</th>
                            <th scope="col">"Size"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>{items.into_iter().map(row).collect_view()}</tbody>
                </table>
                {more.then(|| view! {
                    <button type="button" class="ferry-button" on:click=move |_| load(true)>"Load more"</button>
                })}
            }
            .into_any()
        }
    };

    let answered = Callback::new(move |choice: Option<ConflictPolicy>| {
        let Some((trash_id, name)) = asking.get_untracked() else {
            return;
        };
        asking.set(None);
        busy.update(|b| b.retain(|id| *id != trash_id));
        match choice {
            Some(policy) => restore(trash_id, name, policy),
            None => notices.say(format!("{name} stays in the trash")),
        }
    });

    view! {
        <section class="ferry-trash" aria-label="Trash">
            <div class="ferry-trash-head">
                <h2>"Trash"</h2>
                <button type="button" class="ferry-button ferry-danger-button"
                    disabled=move || state.with(TrashState::is_empty)
                    on:click=move |_| confirm_empty.set(true)>"Empty trash"</button>
                <button type="button" class="ferry-link" on:click=move |_| open.set(false)>"Back to files"</button>
            </div>
            <p class="ferry-muted">
                {move || state.with(|s| trash_terms(s.trash_bytes, s.retention_days))}
            </p>
            {list}
        </section>
        {move || confirm_empty.get().then(|| {
            let close = Callback::new(move |()| confirm_empty.set(false));
            let count = state.with_untracked(|s| s.items().len());
            let what = match count {
                1 => "The 1 item".to_owned(),
                n => format!("All {n} items"),
            };
            view! {
                <Modal title="Empty the trash?".to_owned() on_close=close>
                    <p>{format!("{what} in the trash will be deleted forever. This can't be undone.")}</p>
                    <div class="ferry-dialog-buttons">
                        <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Cancel"</button>
                        <button type="button" class="ferry-button ferry-danger-button" on:click=move |_| empty()>"Delete everything forever"</button>
                    </div>
                </Modal>
            }
        })}
        {move || asking.get().map(|(_, name)| view! {
            <ConflictQuestion name=name doing="restoring" on_answer=answered />
        })}
    }
}
