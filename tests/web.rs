//! Component tests in headless Chromium (wasm-bindgen-test): the app mounted
//! into an element of a page, as a portal would embed it.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn host(attributes: &[(&str, &str)]) -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let element: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    for (name, value) in attributes {
        element.set_attribute(name, value).unwrap();
    }
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

/// Waits (a bounded number of turns) until an element matches `selector`.
async fn wait_for(root: &web_sys::HtmlElement, selector: &str) -> web_sys::Element {
    for _ in 0..100 {
        leptos::task::tick().await;
        if let Some(found) = root.query_selector(selector).unwrap() {
            return found;
        }
        sleep(50).await;
    }
    panic!(
        "nothing matched {selector}; the element holds: {}",
        root.inner_html()
    );
}

const INLINE: &[(&str, &str)] = &[
    ("data-api-url", "https://api.example.com"),
    ("data-websocket-url", "wss://ws.example.com"),
    ("data-region", "eu-west-1"),
    ("data-user-pool-id", "eu-west-1_Portal"),
    ("data-user-pool-client-id", "abc"),
    ("data-environment", "portal"),
];

#[wasm_bindgen_test]
async fn settings_from_attributes_need_no_request() {
    let root = host(INLINE);
    let handle = ferry_web::mount(root.clone());
    let status = wait_for(&root, "[role=status]:not(.ferry-muted)").await;
    assert_eq!(
        status.text_content().unwrap(),
        "Connected to the portal stack."
    );
    assert!(root.inner_html().contains("eu-west-1_Portal"));
    drop(handle);
    root.remove();
}

#[wasm_bindgen_test]
async fn a_missing_config_document_is_explained_on_the_page() {
    let root = host(&[("data-config-url", "/no-such-config.json")]);
    let handle = ferry_web::mount(root.clone());
    let alert = wait_for(&root, "[role=alert]").await;
    let text = alert.text_content().unwrap();
    assert!(text.contains("Ferry can't start"), "{text}");
    assert!(
        text.contains("/no-such-config.json are unavailable (HTTP 404)"),
        "{text}"
    );
    drop(handle);
    root.remove();
}

#[wasm_bindgen_test]
async fn broken_attributes_are_explained_on_the_page() {
    let root = host(&[
        ("data-api-url", "https://api.example.com"),
        ("data-auth-mode", "magic"),
    ]);
    let handle = ferry_web::mount(root.clone());
    let alert = wait_for(&root, "[role=alert]").await;
    assert!(alert.text_content().unwrap().contains("`srp` or `hosted`"));
    drop(handle);
    root.remove();
}

#[wasm_bindgen_test]
async fn unmounting_leaves_the_host_element_empty() {
    let root = host(INLINE);
    let handle = ferry_web::mount(root.clone());
    wait_for(&root, ".ferry").await;
    drop(handle);
    leptos::task::tick().await;
    assert_eq!(root.child_element_count(), 0, "{}", root.inner_html());
    root.remove();
}

/// Names are NFC in the browser too, where JavaScript's normalize does it:
/// the same answers as the native crate gives (see ferry-protocol's tests).
#[wasm_bindgen_test]
fn names_are_normalised_to_nfc_by_the_browser() {
    use ferry_protocol::{FileName, FolderPath};
    for (given, nfc) in [
        ("Cafe\u{301}.txt", "Café.txt"),
        ("\u{212B}ngstr\u{f6}m", "\u{C5}ngstr\u{f6}m"),
        ("\u{1100}\u{1161}\u{11A8}", "\u{AC01}"),
        ("\u{FB01}le", "\u{FB01}le"),
        ("plain.txt", "plain.txt"),
    ] {
        assert_eq!(FileName::parse(given).unwrap().as_str(), nfc, "{given:?}");
        assert_eq!(FolderPath::parse(given).unwrap().as_str(), nfc, "{given:?}");
    }
}
