//! A file's preview, in the dialogs chunk: the viewer the API's preview
//! answer names — an image full size, a PDF in the browser's own viewer,
//! audio and video in the native players (which seek with `Range`), text as
//! text — or, for anything else, the file's facts and a download. Previous
//! and Next (← and →) go through the folder's files in the order shown.
//!
//! What the viewers load is the presigned URL the API signed for this file:
//! served `inline` with the type the index keeps, text always as plain
//! text, and HTML, SVG and XML never inline (`ferry_protocol::preview`).
//! Text is fetched and put in the page as text, never as markup.

use super::Ctx;
use super::actions::Actions;
use super::listing::shown_rows;
use crate::api::http;
use crate::components::modal::Modal;
use ferry_client::format;
use ferry_client::preview::{self as rules, Step};
use ferry_client::rows::{RowKind, RowView};
use ferry_protocol::api::PreviewResponse;
use ferry_protocol::preview::{MAX_TEXT_PREVIEW, PreviewKind};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Where the preview of the file shown is.
#[derive(Debug, Clone, PartialEq)]
enum Shown {
    /// Its preview link is being asked for.
    Loading,
    /// It couldn't be had, and why.
    Failed(String),
    /// The API's answer.
    Ready(PreviewResponse),
}

/// A text preview's bytes, read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    /// On their way.
    Loading,
    /// The text, and the encoding it was read in.
    Read(String, &'static str),
    /// Why it isn't shown as text.
    Unreadable(String),
}

/// A file's preview, in a dialog; `row` is the file it opens on.
#[component]
pub fn Preview(ctx: Ctx, actions: Actions, row: RowView) -> impl IntoView {
    let close = Callback::new(move |()| ctx.dialog.set(None));
    let rows = shown_rows(ctx);
    let current = RwSignal::new(row);
    let shown = RwSignal::new(Shown::Loading);
    let text = RwSignal::new(Text::Loading);

    // Asks for the file's preview each time another file is shown; an
    // answer for a file no longer shown is dropped.
    Effect::new(move |_| {
        let row = current.get();
        let RowKind::File(file_id) = row.kind else {
            return;
        };
        shown.set(Shown::Loading);
        text.set(Text::Loading);
        let api = actions.outbox().api();
        let still = move || current.try_with_untracked(|r| r.key == row.key) == Some(true);
        leptos::task::spawn_local(async move {
            match api.preview(file_id).await {
                Ok(answer) if still() => {
                    let url = (answer.kind == PreviewKind::Text && answer.size <= MAX_TEXT_PREVIEW)
                        .then(|| answer.url.clone());
                    shown.try_set(Shown::Ready(answer));
                    if let Some(url) = url {
                        let read = read_text(&url).await;
                        if still() {
                            text.try_set(read);
                        }
                    }
                }
                Ok(_) => {}
                Err(failure) if still() => {
                    shown.try_set(Shown::Failed(failure.to_string()));
                }
                Err(_) => {}
            }
        });
    });

    let neighbour = move |step: Step| {
        let key = current.with(|r| r.key.clone());
        rows.with(|all| {
            let next = rules::neighbour(all, &key, step)?;
            all.iter().find(|r| r.key == next).cloned()
        })
    };
    // The grid's focus follows, so closing the preview leaves it on the
    // file seen last.
    let go = move |step: Step| {
        if let Some(next) = neighbour(step) {
            ctx.selection.update(|s| s.point(&next.key));
            current.set(next);
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        // A player's own keys (← → seek) stay the player's.
        let in_player = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "VIDEO" | "AUDIO"));
        let step = match ev.key().as_str() {
            "ArrowRight" => Step::Next,
            "ArrowLeft" => Step::Previous,
            _ => return,
        };
        if !in_player {
            ev.prevent_default();
            go(step);
        }
    };

    let title = Signal::derive(move || current.with(|r| r.name.clone()));
    let download = move |_| {
        if let RowKind::File(file_id) = current.with_untracked(|r| r.kind.clone()) {
            actions.download(file_id, &current.with_untracked(|r| r.name.clone()));
        }
    };
    let body = move || {
        let name = current.with(|r| r.name.clone());
        match shown.get() {
            Shown::Loading => {
                view! { <p role="status" class="ferry-muted">"Loading the preview…"</p> }.into_any()
            }
            Shown::Failed(message) => view! {
                <p class="ferry-field-error">{format!("The preview couldn't be loaded: {message}")}</p>
            }
            .into_any(),
            Shown::Ready(answer) => viewer(&name, answer, text).into_any(),
        }
    };

    view! {
        <Modal title=title on_close=close wide=true>
            <div class="ferry-preview" on:keydown=on_key>
                <div class="ferry-preview-body">{body}</div>
                <div class="ferry-dialog-buttons">
                    <button type="button" class="ferry-button" aria-label="Previous file"
                        disabled=move || neighbour(Step::Previous).is_none()
                        on:click=move |_| go(Step::Previous)>"‹ Previous"</button>
                    <button type="button" class="ferry-button" aria-label="Next file"
                        disabled=move || neighbour(Step::Next).is_none()
                        on:click=move |_| go(Step::Next)>"Next ›"</button>
                    <button type="button" class="ferry-button"
                        aria-label=move || format!("Download {}", title.get())
                        on:click=download>"Download"</button>
                    <button type="button" class="ferry-button ferry-primary"
                        on:click=move |_| close.run(())>"Close"</button>
                </div>
            </div>
        </Modal>
    }
}

/// The viewer for `answer`: the element that shows its kind, or the
/// file's facts.
fn viewer(name: &str, answer: PreviewResponse, text: RwSignal<Text>) -> impl IntoView + use<> {
    let url = answer.url.clone();
    match answer.kind {
        PreviewKind::Image => view! { <img class="ferry-preview-media" src=url alt=name.to_owned() /> }.into_any(),
        PreviewKind::Pdf => view! {
            <iframe class="ferry-preview-frame" src=url title=format!("{name} (PDF)")></iframe>
        }
        .into_any(),
        PreviewKind::Audio => view! {
            <audio class="ferry-preview-media" controls=true preload="metadata" src=url aria-label=name.to_owned()></audio>
        }
        .into_any(),
        PreviewKind::Video => view! {
            <video class="ferry-preview-media" controls=true preload="metadata" src=url aria-label=name.to_owned()></video>
        }
        .into_any(),
        PreviewKind::Text if answer.size <= MAX_TEXT_PREVIEW => {
            let label = format!("Text of {name}");
            (move || match text.get() {
                Text::Loading => view! { <p role="status" class="ferry-muted">"Loading the text…"</p> }.into_any(),
                Text::Read(content, encoding) => view! {
                    <p class="ferry-muted">{format!("Shown as plain text, read as {encoding}.")}</p>
                    <pre class="ferry-preview-text" tabindex="0" aria-label=label.clone()>{content}</pre>
                }
                .into_any(),
                Text::Unreadable(why) => view! { <p>{why}</p> {facts(&answer)} }.into_any(),
            })
            .into_any()
        }
        PreviewKind::Text => view! {
            <p>{format!("This file is too large to show as text (more than {}).", format::bytes(MAX_TEXT_PREVIEW))}</p>
            {facts(&answer)}
        }
        .into_any(),
        PreviewKind::None => view! {
            <span class="ferry-preview-icon" aria-hidden="true"><span class="ferry-icon ferry-icon-file"></span></span>
            <p>"There's no preview of this kind of file."</p>
            {facts(&answer)}
        }
        .into_any(),
    }
}

/// Type, size and SHA-256 of the file.
fn facts(answer: &PreviewResponse) -> impl IntoView + use<> {
    let kind = if answer.content_type.is_empty() {
        "not known".to_owned()
    } else {
        answer.content_type.clone()
    };
    let sha = answer
        .sha256
        .clone()
        .unwrap_or_else(|| "not known".to_owned());
    view! {
        <dl class="ferry-version-facts">
            <dt>"Type"</dt><dd>{kind}</dd>
            <dt>"Size"</dt><dd>{format::bytes(answer.size)}</dd>
            <dt>"SHA-256"</dt><dd><code class="ferry-sha">{sha}</code></dd>
        </dl>
    }
}

/// Fetches a text preview's bytes and reads them as text, in the encoding
/// the bytes show; or says why they can't be shown as text.
async fn read_text(url: &str) -> Text {
    match http::get_bytes(url).await {
        Ok((200, bytes)) => match rules::sniff_text(&bytes) {
            Ok(sniff) => Text::Read(rules::decode_text(&bytes, sniff), sniff.encoding.name()),
            Err(not) => Text::Unreadable(not.to_string()),
        },
        Ok((status, _)) => Text::Unreadable(format!(
            "The text couldn't be loaded (the store answered {status}). Download the file to see it."
        )),
        Err(http::Unreachable) => Text::Unreadable(
            "The text couldn't be loaded: the store can't be reached. Download the file to see it."
                .to_owned(),
        ),
    }
}
