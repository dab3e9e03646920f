//! The question when a name is taken: replace the file there, keep both,
//! or skip. Asked by the upload panel for a file being uploaded and by the
//! Trash view for a file being restored, with the same words and buttons.

use crate::components::modal::Modal;
use ferry_protocol::messages::ConflictPolicy;
use leptos::prelude::*;

/// "`name` already exists": Replace, Keep both or Skip; `on_answer` hears
/// the policy chosen, or `None` for Skip (and for Esc or a click outside).
/// `doing` is what is happening to the file ("uploading", "restoring").
#[component]
pub fn ConflictQuestion(
    name: String,
    doing: &'static str,
    on_answer: Callback<Option<ConflictPolicy>>,
) -> impl IntoView {
    let answer = move |choice: Option<ConflictPolicy>| move |_| on_answer.run(choice);
    view! {
        <Modal title=format!("{name} already exists") on_close=Callback::new(move |()| on_answer.run(None))>
            <p>{format!("A file with this name is already in this folder. What should happen to the one you are {doing}?")}</p>
            <div class="ferry-dialog-buttons">
                <button type="button" class="ferry-button" on:click=answer(None)>"Skip"</button>
                <button type="button" class="ferry-button" on:click=answer(Some(ConflictPolicy::KeepBoth))>"Keep both"</button>
                <button type="button" class="ferry-button ferry-primary" on:click=answer(Some(ConflictPolicy::Replace))>"Replace"</button>
            </div>
        </Modal>
    }
}
