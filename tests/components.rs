//! Component tests in headless Chromium (wasm-bindgen-test) for pieces the
//! trash and versions added, mounted alone: the question when a name is
//! taken (shared by uploads and restores) and the notice that expires.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::messages::ConflictPolicy;
use ferry_web::components::conflict::ConflictQuestion;
use ferry_web::hooks::use_expiry::use_expiry;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn host() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let element: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    // Every component renders under the one `.ferry` root.
    element.set_class_name("ferry");
    document.body().unwrap().append_child(&element).unwrap();
    element
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// The button whose text (its accessible name here) is `name`.
fn button(root: &web_sys::HtmlElement, name: &str) -> web_sys::HtmlElement {
    let all = root.query_selector_all("button").unwrap();
    (0..all.length())
        .filter_map(|i| all.item(i))
        .map(|n| n.unchecked_into::<web_sys::HtmlElement>())
        .find(|b| {
            b.get_attribute("aria-label")
                .or_else(|| b.text_content())
                .as_deref()
                == Some(name)
        })
        .unwrap_or_else(|| panic!("no button {name:?} in {}", root.inner_html()))
}

#[wasm_bindgen_test]
async fn the_conflict_question_asks_by_name_and_answers_the_choice() {
    let root = host();
    let answers = RwSignal::new(Vec::<Option<ConflictPolicy>>::new());
    let mounted = mount_to(root.clone(), move || {
        view! {
            <ConflictQuestion name="report.pdf".to_owned() doing="restoring"
                on_answer=Callback::new(move |choice| answers.update(|a| a.push(choice))) />
        }
    });
    leptos::task::tick().await;
    let dialog = root.query_selector("[role=dialog]").unwrap().unwrap();
    let title = dialog.query_selector("h2").unwrap().unwrap();
    assert_eq!(title.text_content().unwrap(), "report.pdf already exists");
    assert_eq!(
        dialog.get_attribute("aria-labelledby").as_deref(),
        Some(title.id().as_str())
    );
    assert!(
        dialog
            .text_content()
            .unwrap()
            .contains("the one you are restoring?")
    );
    button(&root, "Keep both").click();
    button(&root, "Replace").click();
    button(&root, "Skip").click();
    assert_eq!(
        answers.get_untracked(),
        [
            Some(ConflictPolicy::KeepBoth),
            Some(ConflictPolicy::Replace),
            None
        ]
    );
    drop(mounted);
    root.remove();
}

#[wasm_bindgen_test]
async fn a_notice_expires_unless_the_person_is_at_it() {
    let root = host();
    let shown = RwSignal::new(None::<(u64, &'static str)>);
    let held = RwSignal::new(false);
    let mounted = mount_to(root.clone(), move || {
        use_expiry(shown, Duration::from_millis(150), held.into());
        view! { <p>{move || shown.get().map(|(_, text)| text)}</p> }
    });
    shown.set(Some((1, "Deleted a.txt")));
    sleep(50).await;
    assert_eq!(shown.get_untracked(), Some((1, "Deleted a.txt")));
    sleep(250).await;
    assert_eq!(shown.get_untracked(), None, "it stayed past its time");

    // Held (focus inside): it stays, and goes its time after release.
    shown.set(Some((2, "Moved b.txt")));
    held.set(true);
    sleep(300).await;
    assert_eq!(shown.get_untracked(), Some((2, "Moved b.txt")));
    held.set(false);
    sleep(50).await;
    assert_eq!(shown.get_untracked(), Some((2, "Moved b.txt")));
    sleep(250).await;
    assert_eq!(shown.get_untracked(), None);

    // A newer notice isn't cleared by an older one's timer.
    shown.set(Some((3, "first")));
    sleep(100).await;
    shown.set(Some((4, "second")));
    sleep(100).await;
    assert_eq!(shown.get_untracked(), Some((4, "second")));
    drop(mounted);
    root.remove();
}
