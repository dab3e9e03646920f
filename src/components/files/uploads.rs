//! The upload panel, part of the upload machinery's chunk: a bar per file
//! and one for all, pause, resume and cancel; the uploads a reload or a
//! crash interrupted, to resume (from a kept handle with one click) or
//! discard; and the question when an upload's name is taken.

use crate::chunks;
use crate::components::conflict::ConflictQuestion;
use crate::hooks::use_uploads::UseUploads;
use ferry_client::format;
use ferry_client::upload::Stage;
use ferry_protocol::FolderPath;
use leptos::prelude::*;

/// The most files listed in the panel; the rest are counted.
const LISTED: usize = 50;

chunks::split_point! {
    uploads =>
    /// Loads the upload panel, in the upload machinery's chunk.
    pub fn upload_panel() -> fn(UseUploads) -> AnyView {
        |uploads| view! { <UploadPanel uploads=uploads /> }.into_any()
    }
}

/// The upload queue: a bar per file and one for all, pause and resume; the
/// uploads a reload interrupted; and the question when a name is taken.
#[component]
fn UploadPanel(uploads: UseUploads) -> impl IntoView {
    let unfinished = uploads.unfinished;
    let queue = uploads.queue;
    let pause_state = Memo::new(move |_| queue.with(|q| q.pause_state()));
    // The first file whose name is taken: the person is asked about it.
    let asking = Memo::new(move |_| {
        queue.with(|q| {
            q.items()
                .iter()
                .find(|i| i.stage == Stage::Asking)
                .map(|i| (i.id, i.name.clone()))
        })
    });
    view! {
            <section class="ferry-uploads" aria-label="Uploads">
                <div class="ferry-uploads-head">
                    <h2>"Uploads"</h2>
                    <span>{move || queue.with(|q| (!q.items().is_empty()).then(|| q.summary()))}</span>
                    {move || {
                        // "Resume all" once nothing runs; "Pause all" while anything does.
                        let (paused, running) = pause_state.get();
                        let resume = paused && !running;
                        (paused || running).then(|| view! {
                            <button type="button" class="ferry-link" on:click=move |_| uploads.set_all_paused(!resume)>
                                {if resume { "Resume all" } else { "Pause all" }}
                            </button>
                        })
                    }}
                    <button type="button" class="ferry-link" on:click=move |_| queue.update(|q| q.clear_finished())>"Clear finished"</button>
                </div>
                <Show when=move || unfinished.with(|u| !u.is_empty())>
                    <div class="ferry-unfinished" role="group" aria-label="Unfinished uploads">
                        <p class="ferry-muted">"These uploads were interrupted. Resume each to go on (you may be asked to choose the file again); the parts already sent are kept."</p>
                        <ul class="ferry-upload-list">
                            {move || unfinished.get().into_iter().map(|record| {
                                let name = record.name.clone();
                                let file_id = record.file_id;
                                let sent: u64 = record.parts.len() as u64 * record.part_size;
                                let progress = format!("{} of {} sent", format::bytes(sent.min(record.size)), format::bytes(record.size));
                                // With a kept handle, one click goes on; the
                                // file input stays for choosing it anyway.
                                let kept = uploads.has_kept_handle(file_id);
                                let again = record.clone();
                                let from_handle = kept.then(|| view! {
                                    <button type="button" class="ferry-link" aria-label=format!("Resume {name}")
                                        on:click=move |_| uploads.resume_from_handle(again.clone())>"Resume"</button>
                                });
                                let pick_label = if kept { format!("Choose {name} again") } else { format!("Resume {name}") };
                                let pick_text = if kept { "Choose again" } else { "Resume" };
                                view! {
                                    <li class="ferry-upload">
                                        <span class="ferry-upload-name">{name.clone()}</span>
                                        <span class="ferry-muted">{progress}</span>
                                        <span></span>
                                        <span class="ferry-upload-actions">
                                            {from_handle}
                                            <label class="ferry-link ferry-pick">
                                                <span aria-hidden="true">{pick_text}</span>
                                                <input type="file" class="ferry-visually-hidden" aria-label=pick_label
                                                    on:change=move |ev| {
                                                        let input: web_sys::HtmlInputElement = event_target(&ev);
                                                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                                                            uploads.resume_with(record.clone(), file, None);
                                                        }
                                                        input.set_value("");
                                                    } />
                                            </label>
                                            <button type="button" class="ferry-link" aria-label=format!("Discard {name}")
                                                on:click=move |_| uploads.discard(file_id)>"Discard"</button>
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </div>
                </Show>
                <Show when=move || queue.with(|q| q.is_offline())>
                    <p class="ferry-muted" role="status">"Offline: uploads are paused and resume when the connection is back."</p>
                </Show>
                {move || {
                    let (sent, total) = queue.with(|q| q.totals());
                    (total > 0).then(|| view! { <progress aria-label="All uploads" max=total.to_string() value=sent.to_string()></progress> })
                }}
                <ul class="ferry-upload-list">
                    {move || queue.with(|q| {
                        // Unfinished files first (in order), then finished ones.
                        let (open, over): (Vec<_>, Vec<_>) = q.items().iter().partition(|i| !i.stage.is_over());
                        let hidden = (open.len() + over.len()).saturating_sub(LISTED);
                        let rows = open.into_iter().chain(over).take(LISTED).map(|item| {
                        let id = item.id;
                        let over = item.stage.is_over();
                        let paused = item.paused;
                        let sending = item.stage.is_sending();
                        let place = if item.folder == FolderPath::root() { String::new() } else { format!("{}/", item.folder.as_str()) };
                        let class = match item.stage {
                            Stage::Failed(_) => "ferry-upload ferry-failed",
                            Stage::Indexed => "ferry-upload ferry-done",
                            _ => "ferry-upload",
                        };
                        let name = item.name.clone();
                        view! {
                            <li class=class>
                                <span class="ferry-upload-name"><span class="ferry-muted">{place}</span>{item.name.clone()}</span>
                                <progress aria-label=format!("Uploading {}", item.name) max=item.size.max(1).to_string() value=item.sent.to_string()></progress>
                                <span class="ferry-upload-stage">{item.label()}</span>
                                <span class="ferry-upload-actions">
                                {sending.then(|| {
                                    let (word, label) = if paused { ("Resume", format!("Resume {name}")) } else { ("Pause", format!("Pause {name}")) };
                                    view! {
                                        <button type="button" class="ferry-link" aria-label=label
                                            on:click=move |_| uploads.set_paused(id, !paused)>{word}</button>
                                    }
                                })}
                                {(!over).then(|| view! {
                                    <button type="button" class="ferry-link" aria-label=format!("Cancel {name}")
                                        on:click=move |_| uploads.cancel(id)>"Cancel"</button>
                                })}
                                </span>
                            </li>
                        }
                    }).collect_view();
                        view! {
                            {rows}
                            {(hidden > 0).then(|| view! { <li class="ferry-upload ferry-muted">{format!("and {hidden} more")}</li> })}
                        }
                    })}
                </ul>
            </section>
            {move || asking.get().map(|(upload, name)| view! {
                <ConflictQuestion name=name doing="uploading"
                    on_answer=Callback::new(move |choice| uploads.resolve(upload, choice)) />
            })}
    }
}
