//! The undo offered after an action: what was done and a button to undo
//! it, for a few seconds (longer while the person is at it). Announced
//! through the browser's live region when it appears (`Actions::offer`);
//! Ctrl+Z (⌘Z) in the browser undoes it too.

use super::actions::Actions;
use crate::hooks::use_expiry::use_expiry;
use leptos::prelude::*;
use std::time::Duration;

/// How long an undo is offered once the person isn't at it.
const OFFERED: Duration = Duration::from_secs(10);

/// The notice with its "Undo" button, while an undo is offered.
#[component]
pub fn UndoNotice(actions: Actions) -> impl IntoView {
    let held = RwSignal::new(false);
    use_expiry(actions.offer, OFFERED, held.into());
    move || {
        actions.offer.get().map(|(_, offer)| {
            view! {
                <div class="ferry-undo" role="group" aria-label="Last action"
                    on:focusin=move |_| held.set(true)
                    on:focusout=move |_| held.set(false)
                    on:mouseenter=move |_| held.set(true)
                    on:mouseleave=move |_| held.set(false)>
                    <span>{offer.text}</span>
                    <button type="button" class="ferry-button" aria-keyshortcuts="Control+Z Meta+Z" on:click=move |_| {
                        held.set(false);
                        actions.undo();
                    }>"Undo"</button>
                    <button type="button" class="ferry-link" aria-label="Dismiss undo" on:click=move |_| {
                        held.set(false);
                        actions.offer.set(None);
                    }>"Dismiss"</button>
                </div>
            }
        })
    }
}
