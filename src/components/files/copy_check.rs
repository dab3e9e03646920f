//! Checking a copy the person downloaded against the stored file: they
//! choose it, and `use_copy_check` compares sizes, then the SHA-256 the
//! index recorded. The copy stays on their device.

use crate::components::modal::Modal;
use crate::hooks::use_copy_check::{UseCopyCheckReturn, use_copy_check};
use ferry_client::rows::RowView;
use ferry_client::verify::Check;
use leptos::prelude::*;

/// The copy-check dialog for `row`.
pub fn copy_check_view(row: RowView, close: Callback<()>) -> AnyView {
    view! { <CopyCheck row=row close=close /> }.into_any()
}

#[component]
fn CopyCheck(row: RowView, close: Callback<()>) -> impl IntoView {
    let name = row.name.clone();
    let UseCopyCheckReturn { check, check_copy } = use_copy_check(
        row.sha256.clone().unwrap_or_default(),
        row.size.unwrap_or(0),
    );
    let pick = move |ev: leptos::ev::Event| {
        if let Some(file) = event_target::<web_sys::HtmlInputElement>(&ev)
            .files()
            .and_then(|f| f.get(0))
        {
            check_copy.run(file);
        }
    };
    let outcome = move || {
        check.with(|c| match c {
            Check::Matches { .. } => "ferry-verify ferry-verify-ok",
            Check::WrongSize { .. } | Check::Differs | Check::Unreadable(_) => {
                "ferry-verify ferry-verify-bad"
            }
            _ => "ferry-verify",
        })
    };
    view! {
        <Modal title=format!("Check a copy of {name}") on_close=close>
            <p>"Choose the copy you downloaded: Ferry compares it with the SHA-256 recorded when the file was stored. The copy stays on your device."</p>
            <label class="ferry-field" for="ferry-verify-copy">
                <span>{format!("Your copy of {name}")}</span>
                <input id="ferry-verify-copy" type="file" on:change=pick />
            </label>
            <p role="status" class=outcome>{move || check.with(Check::text)}</p>
            <div class="ferry-dialog-buttons">
                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Close"</button>
            </div>
        </Modal>
    }
}
