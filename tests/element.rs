//! `<ferry-files>` in headless Chromium (wasm-bindgen-test), as a host page
//! uses it: created with `document.createElement`, configured through
//! attributes and properties, appended, changed and removed. What the page
//! can see is checked: attributes, the shadow root, `location.hash` and the
//! events that reach `document`.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use js_sys::Object;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Settings complete enough to start (nothing listens on port 9, so every
/// request a signed-in instance makes is refused at once).
const INLINE: &[(&str, &str)] = &[
    ("api-url", "http://127.0.0.1:9/api"),
    ("websocket-url", "ws://127.0.0.1:9/ws"),
    ("region", "eu-west-1"),
    ("user-pool-id", "eu-west-1_Portal"),
    ("user-pool-client-id", "abc"),
    ("environment", "portal"),
];

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Defines `<ferry-files>` once for the page, as `ferry.js` does.
fn define() {
    static DEFINED: std::sync::Once = std::sync::Once::new();
    DEFINED.call_once(ferry_web::element::define);
}

/// A `<ferry-files>` with `attributes`, not yet in the page.
fn ferry_files(attributes: &[(&str, &str)]) -> web_sys::HtmlElement {
    define();
    let element: web_sys::HtmlElement = document()
        .create_element("ferry-files")
        .unwrap()
        .unchecked_into();
    for (name, value) in attributes {
        element.set_attribute(name, value).unwrap();
    }
    element
}

fn append(element: &web_sys::HtmlElement) {
    document().body().unwrap().append_child(element).unwrap();
}

fn shadow(element: &web_sys::HtmlElement) -> web_sys::ShadowRoot {
    element
        .shadow_root()
        .expect("the element has an open shadow root")
}

fn property(target: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(name)).unwrap()
}

fn set_property(target: &JsValue, name: &str, value: &JsValue) {
    js_sys::Reflect::set(target, &JsValue::from_str(name), value).unwrap();
}

/// The element's mounted instance (`undefined` when unmounted).
fn instance(element: &web_sys::HtmlElement) -> JsValue {
    property(element, "instance")
}

fn hash() -> String {
    web_sys::window().unwrap().location().hash().unwrap()
}

fn set_hash(hash: &str) {
    web_sys::window()
        .unwrap()
        .location()
        .set_hash(hash)
        .unwrap();
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

/// Waits (a bounded number of turns) until something in `root` matches
/// `selector`.
async fn wait_for(root: &web_sys::ShadowRoot, selector: &str) -> web_sys::Element {
    for _ in 0..100 {
        leptos::task::tick().await;
        if let Some(found) = root.query_selector(selector).unwrap() {
            return found;
        }
        sleep(50).await;
    }
    panic!(
        "nothing matched {selector}; the shadow root holds: {}",
        root.inner_html()
    );
}

/// Waits (a bounded number of turns) until `done` holds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        leptos::task::tick().await;
        if done() {
            return;
        }
        sleep(50).await;
    }
    panic!("waited in vain for {what}");
}

/// The events of one type that reach `document`, from one element; the
/// listener goes when this is dropped.
struct Heard {
    name: &'static str,
    events: Rc<RefCell<Vec<web_sys::CustomEvent>>>,
    listener: Closure<dyn Fn(web_sys::Event)>,
}

impl Heard {
    fn on_document(name: &'static str, from: &web_sys::HtmlElement) -> Self {
        let events = Rc::new(RefCell::new(Vec::new()));
        let listener = {
            let (events, from) = (events.clone(), from.clone());
            Closure::<dyn Fn(web_sys::Event)>::new(move |event: web_sys::Event| {
                let target: Option<JsValue> = event.target().map(Into::into);
                if target.as_ref() == Some(from.as_ref()) {
                    events.borrow_mut().push(event.unchecked_into());
                }
            })
        };
        document()
            .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
            .unwrap();
        Self {
            name,
            events,
            listener,
        }
    }

    fn count(&self) -> usize {
        self.events.borrow().len()
    }

    /// The `detail` of each event heard, as JSON text.
    fn details(&self) -> Vec<String> {
        self.events
            .borrow()
            .iter()
            .map(|event| String::from(js_sys::JSON::stringify(&event.detail()).unwrap()))
            .collect()
    }
}

impl Drop for Heard {
    fn drop(&mut self) {
        let _ = document()
            .remove_event_listener_with_callback(self.name, self.listener.as_ref().unchecked_ref());
    }
}

fn session_storage() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

/// A token-shaped JWT (unsigned; only the page reads it) valid for an hour.
fn fake_jwt(name: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = (js_sys::Date::now() / 1000.0) as i64 + 3600;
    let claims = serde_json::json!({"exp": exp, "iat": exp - 3600, "username": name, "cognito:username": name});
    format!(
        "{}.{}.c2ln",
        b64.encode(r#"{"alg":"RS256"}"#),
        b64.encode(claims.to_string())
    )
}

/// A kept session for `name` in this tab's sessionStorage, where an
/// instance looks by default.
fn keep_session(name: &str) {
    let token = fake_jwt(name);
    let tokens = serde_json::json!({
        "id_token": token, "access_token": token, "refresh_token": null,
        "expires_at": (js_sys::Date::now() / 1000.0) as i64 + 3600,
    });
    session_storage()
        .set_item("ferry.tokens", &tokens.to_string())
        .unwrap();
}

fn forget_session() {
    session_storage().remove_item("ferry.tokens").unwrap();
}

// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
fn every_setting_is_a_camel_case_property_reflecting_its_attribute() {
    let element = ferry_files(&[]);
    for (attribute, property_name) in [
        ("api-url", "apiUrl"),
        ("websocket-url", "websocketUrl"),
        ("region", "region"),
        ("user-pool-id", "userPoolId"),
        ("user-pool-client-id", "userPoolClientId"),
        ("identity-endpoint", "identityEndpoint"),
        ("auth-mode", "authMode"),
        ("hosted-ui-url", "hostedUiUrl"),
        ("token-storage", "tokenStorage"),
        ("config-url", "configUrl"),
        ("environment", "environment"),
        ("routing", "routing"),
        ("folder", "folder"),
    ] {
        // Unset, the property is null like the attribute.
        assert_eq!(
            property(&element, property_name),
            JsValue::NULL,
            "{attribute}"
        );
        // The property sets the attribute…
        set_property(&element, property_name, &JsValue::from_str("one"));
        assert_eq!(element.get_attribute(attribute).as_deref(), Some("one"));
        // …and reads it back.
        element.set_attribute(attribute, "two").unwrap();
        assert_eq!(
            property(&element, property_name).as_string().as_deref(),
            Some("two"),
            "{attribute}"
        );
        // Values become strings; null and undefined remove the attribute.
        set_property(&element, property_name, &JsValue::from_f64(42.0));
        assert_eq!(element.get_attribute(attribute).as_deref(), Some("42"));
        set_property(&element, property_name, &JsValue::NULL);
        assert!(!element.has_attribute(attribute), "{attribute}");
        set_property(&element, property_name, &JsValue::from_str("three"));
        set_property(&element, property_name, &JsValue::UNDEFINED);
        assert!(!element.has_attribute(attribute), "{attribute}");
    }
}

#[wasm_bindgen_test]
async fn an_invalid_setting_is_shown_in_the_shadow_root_and_told_to_the_page() {
    let element = ferry_files(&[
        ("api-url", "https://api.example.com"),
        ("auth-mode", "magic"),
    ]);
    let errors = Heard::on_document("ferry-error", &element);
    append(&element);
    let root = shadow(&element);
    let alert = wait_for(&root, "[role=alert]").await;
    let text = alert.text_content().unwrap();
    assert!(text.contains("Ferry can't start"), "{text}");
    assert!(
        text.contains("the setting `auth-mode` must be `srp` or `hosted`, but is `magic`"),
        "{text}"
    );
    // Nothing of the view is in the page's own tree.
    assert_eq!(element.child_element_count(), 0);
    assert!(document().query_selector(".ferry").unwrap().is_none());

    wait_until("ferry-error", || errors.count() == 1).await;
    let event = errors.events.borrow()[0].clone();
    assert!(event.bubbles(), "ferry-error must bubble");
    assert!(event.composed(), "ferry-error must be composed");
    assert_eq!(
        errors.details(),
        [concat!(
            r#"{"schemaVersion":1,"code":"InvalidSettings","#,
            r#""message":"Ferry's settings at the page are not valid: "#,
            r#"the setting `auth-mode` must be `srp` or `hosted`, but is `magic`.","#,
            r#""retryable":false}"#
        )]
    );
    element.remove();
}

#[wasm_bindgen_test]
async fn an_invalid_routing_is_an_invalid_setting_too() {
    let mut attributes = INLINE.to_vec();
    attributes.push(("routing", "history"));
    let element = ferry_files(&attributes);
    let errors = Heard::on_document("ferry-error", &element);
    append(&element);
    let alert = wait_for(&shadow(&element), "[role=alert]").await;
    let text = alert.text_content().unwrap();
    assert!(
        text.contains("the setting `routing` must be `hash` or `none`, but is `history`"),
        "{text}"
    );
    wait_until("ferry-error", || errors.count() == 1).await;
    assert!(
        errors.details()[0].contains(r#""code":"InvalidSettings""#),
        "{:?}",
        errors.details()
    );
    element.remove();
}

#[wasm_bindgen_test]
async fn ready_says_signed_out_with_inline_settings_and_no_kept_tokens() {
    forget_session();
    let mut attributes = INLINE.to_vec();
    attributes.push(("folder", "/Reports/2026/"));
    let element = ferry_files(&attributes);
    let ready = Heard::on_document("ferry-ready", &element);
    let errors = Heard::on_document("ferry-error", &element);
    append(&element);
    wait_until("ferry-ready", || ready.count() == 1).await;
    let event = ready.events.borrow()[0].clone();
    assert!(event.bubbles() && event.composed());
    assert_eq!(
        ready.details(),
        [r#"{"schemaVersion":1,"contract":1,"folder":"Reports/2026","signedIn":false}"#]
    );
    // Signed out, it shows its sign-in form, with no request for settings.
    let status = wait_for(&shadow(&element), "[role=status]:not(.ferry-muted)").await;
    assert_eq!(
        status.text_content().unwrap(),
        "Connected to the portal stack."
    );
    sleep(100).await;
    assert_eq!(ready.count(), 1, "ferry-ready is sent once");
    assert_eq!(errors.count(), 0, "{:?}", errors.details());
    element.remove();
}

#[wasm_bindgen_test]
async fn two_elements_get_two_independent_shadow_roots() {
    forget_session();
    let first = ferry_files(INLINE);
    let mut attributes = INLINE.to_vec();
    attributes.retain(|(name, _)| *name != "environment");
    attributes.push(("environment", "second"));
    let second = ferry_files(&attributes);
    append(&first);
    append(&second);
    let (first_root, second_root) = (shadow(&first), shadow(&second));
    assert!(!first_root.is_same_node(Some(&second_root)));
    let first_status = wait_for(&first_root, "[role=status]:not(.ferry-muted)").await;
    let second_status = wait_for(&second_root, "[role=status]:not(.ferry-muted)").await;
    // Each shows its own settings, in its own root.
    assert_eq!(
        first_status.text_content().unwrap(),
        "Connected to the portal stack."
    );
    assert_eq!(
        second_status.text_content().unwrap(),
        "Connected to the second stack."
    );
    assert_eq!(first_root.query_selector_all(".ferry").unwrap().length(), 1);
    assert_eq!(
        second_root.query_selector_all(".ferry").unwrap().length(),
        1
    );
    assert!(!Object::is(&instance(&first), &instance(&second)));

    // Removing one leaves the other as it was.
    first.remove();
    leptos::task::tick().await;
    assert_eq!(first_root.child_nodes().length(), 0);
    assert_eq!(
        second_root.query_selector_all(".ferry").unwrap().length(),
        1
    );
    assert!(second_root.inner_html().contains("second stack"));
    second.remove();
}

#[wasm_bindgen_test]
async fn removing_the_element_unmounts_it_and_appending_it_again_mounts_it() {
    forget_session();
    let element = ferry_files(INLINE);
    let ready = Heard::on_document("ferry-ready", &element);
    append(&element);
    let root = shadow(&element);
    wait_for(&root, ".ferry").await;
    assert!(instance(&element).is_object());

    element.remove();
    leptos::task::tick().await;
    assert_eq!(root.child_nodes().length(), 0, "{}", root.inner_html());
    assert!(instance(&element).is_undefined());
    // Calls on a removed element do nothing (and don't throw).
    call(&element, "refresh", &[]);
    call(&element, "navigate", &[JsValue::from_str("photos")]);

    append(&element);
    // The same shadow root, mounted anew.
    assert!(shadow(&element).is_same_node(Some(&root)));
    wait_for(&root, "[role=status]:not(.ferry-muted)").await;
    assert_eq!(root.query_selector_all(".ferry").unwrap().length(), 1);
    wait_until("a second ferry-ready", || ready.count() == 2).await;
    element.remove();
}

#[wasm_bindgen_test]
async fn changing_a_setting_remounts_and_changing_the_folder_does_not() {
    forget_session();
    let element = ferry_files(INLINE);
    let ready = Heard::on_document("ferry-ready", &element);
    append(&element);
    let root = shadow(&element);
    wait_until("ferry-ready", || ready.count() == 1).await;
    let before = instance(&element);

    set_property(&element, "environment", &JsValue::from_str("staging"));
    leptos::task::tick().await;
    let after = instance(&element);
    assert!(after.is_object());
    assert!(
        !Object::is(&before, &after),
        "a new setting is a new instance"
    );
    let status = wait_for(&root, "[role=status]:not(.ferry-muted)").await;
    assert_eq!(
        status.text_content().unwrap(),
        "Connected to the staging stack."
    );
    wait_until("a second ferry-ready", || ready.count() == 2).await;

    // The same value again is no change.
    element.set_attribute("environment", "staging").unwrap();
    leptos::task::tick().await;
    assert!(Object::is(&after, &instance(&element)));

    // `folder` navigates the instance it has.
    element.set_attribute("folder", "photos").unwrap();
    leptos::task::tick().await;
    assert!(Object::is(&after, &instance(&element)));
    // `theme` only restyles.
    element.set_attribute("theme", "dark").unwrap();
    leptos::task::tick().await;
    assert!(Object::is(&after, &instance(&element)));
    sleep(100).await;
    assert_eq!(ready.count(), 2);
    element.remove();
}

/// A signed-in element with `routing`, showing `Reports`, once its files
/// view is up.
async fn signed_in(routing: &str) -> (web_sys::HtmlElement, web_sys::ShadowRoot) {
    keep_session("tess");
    let mut attributes = INLINE.to_vec();
    attributes.push(("routing", routing));
    attributes.push(("folder", "Reports"));
    let element = ferry_files(&attributes);
    append(&element);
    let root = shadow(&element);
    wait_for(&root, "section[aria-label=Files]").await;
    (element, root)
}

/// The folder the breadcrumbs say is shown.
async fn shown(root: &web_sys::ShadowRoot, name: &str) {
    wait_until(&format!("the breadcrumb {name}"), || {
        root.query_selector(".ferry-crumbs [aria-current=page]")
            .unwrap()
            .and_then(|current| current.text_content())
            .as_deref()
            == Some(name)
    })
    .await;
}

#[wasm_bindgen_test]
async fn with_routing_none_the_folder_changes_and_the_page_url_does_not() {
    set_hash("#/the-host/route");
    let (element, root) = signed_in("none").await;
    let navigated = Heard::on_document("ferry-navigate", &element);
    shown(&root, "Reports").await;

    set_property(&element, "folder", &JsValue::from_str("Reports/2026"));
    shown(&root, "2026").await;
    call(&element, "navigate", &[JsValue::from_str("Archive")]);
    shown(&root, "Archive").await;
    assert_eq!(hash(), "#/the-host/route");
    // What the host asked for isn't told back to it.
    assert_eq!(navigated.count(), 0, "{:?}", navigated.details());

    // A folder link in the view moves the instance, not the page.
    let home: web_sys::HtmlElement = root
        .query_selector(".ferry-crumbs a[href='#/']")
        .unwrap()
        .unwrap()
        .unchecked_into();
    home.click();
    shown(&root, "Home").await;
    assert_eq!(hash(), "#/the-host/route");
    wait_until("ferry-navigate", || navigated.count() == 1).await;
    assert_eq!(navigated.details(), [r#"{"schemaVersion":1,"folder":""}"#]);

    element.remove();
    forget_session();
    set_hash("");
}

#[wasm_bindgen_test]
async fn with_routing_hash_the_folder_lives_in_the_page_url() {
    set_hash("");
    let (element, root) = signed_in("hash").await;
    // The fragment, not the `folder` attribute, says where to start.
    shown(&root, "Home").await;
    set_property(&element, "folder", &JsValue::from_str("Reports/2026"));
    shown(&root, "2026").await;
    assert_eq!(hash(), "#/Reports/2026");
    element.remove();
    forget_session();
    set_hash("");
}

/// Calls the element's method `name` with `arguments`.
fn call(element: &web_sys::HtmlElement, name: &str, arguments: &[JsValue]) {
    let method: js_sys::Function = property(element, name).unchecked_into();
    let arguments: js_sys::Array = arguments.iter().collect();
    method.apply(element, &arguments).unwrap();
}

// --- tokenProvider and signOut() ---------------------------------------------

/// A host's `tokenProvider`: records each call's `forceRefresh` and answers
/// with `answer()` (a promise) until dropped.
struct Provider {
    calls: Rc<RefCell<Vec<bool>>>,
    function: Closure<dyn FnMut(JsValue) -> js_sys::Promise>,
}

impl Provider {
    fn new(answer: impl Fn() -> js_sys::Promise + 'static) -> Self {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let function = {
            let calls = calls.clone();
            Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |options: JsValue| {
                calls
                    .borrow_mut()
                    .push(property(&options, "forceRefresh").as_bool().unwrap());
                answer()
            })
        };
        Self { calls, function }
    }

    /// A provider answering `{idToken, accessToken}` for `name`.
    fn answering(name: &'static str) -> Self {
        Self::new(move || {
            let tokens = Object::new();
            set_property(&tokens, "idToken", &JsValue::from_str(&fake_jwt(name)));
            set_property(&tokens, "accessToken", &JsValue::from_str(&fake_jwt(name)));
            js_sys::Promise::resolve(&JsValue::from(tokens))
        })
    }

    /// A provider whose promise is rejected with `message`.
    fn failing(message: &'static str) -> Self {
        Self::new(move || js_sys::Promise::reject(&js_sys::Error::new(message)))
    }

    fn value(&self) -> JsValue {
        self.function.as_ref().clone()
    }

    fn calls(&self) -> Vec<bool> {
        self.calls.borrow().clone()
    }
}

/// Whether the shadow root shows Ferry's sign-in form.
fn shows_sign_in_form(root: &web_sys::ShadowRoot) -> bool {
    root.query_selector("input[type=password]")
        .unwrap()
        .is_some()
}

#[wasm_bindgen_test]
async fn with_a_token_provider_no_form_shows_and_no_token_is_stored() {
    forget_session();
    let provider = Provider::answering("pat");
    let element = ferry_files(INLINE);
    set_property(&element, "tokenProvider", &provider.value());
    assert!(Object::is(
        &property(&element, "tokenProvider"),
        &provider.value()
    ));
    append(&element);
    let root = shadow(&element);
    wait_for(&root, "section[aria-label=Files]").await;
    assert!(!shows_sign_in_form(&root), "{}", root.inner_html());
    // The host shows who is signed in and signs out: no account bar.
    assert!(root.query_selector(".ferry-account").unwrap().is_none());
    assert_eq!(session_storage().get_item("ferry.tokens").unwrap(), None);
    assert!(!provider.calls()[0], "asked without forcing first");
    // Nothing listens for the live connection: refused before its hello,
    // so the provider is asked once more, forced, and not again on every
    // reconnect.
    wait_until("a forced renewal", || provider.calls().len() == 2).await;
    assert_eq!(provider.calls(), [false, true]);
    sleep(1500).await;
    assert_eq!(
        provider.calls(),
        [false, true],
        "once until a connection works"
    );
    element.remove();
}

#[wasm_bindgen_test]
async fn a_provider_that_throws_ends_the_session_and_tells_the_page() {
    forget_session();
    keep_session("someone-else");
    let provider = Provider::failing("the portal's session expired");
    let element = ferry_files(INLINE);
    let signed_out = Heard::on_document("ferry-signed-out", &element);
    let errors = Heard::on_document("ferry-error", &element);
    set_property(&element, "tokenProvider", &provider.value());
    append(&element);
    let root = shadow(&element);
    let alert = wait_for(&root, "[role=alert] h1").await;
    assert_eq!(
        alert.text_content().unwrap(),
        "Your portal session has ended"
    );
    assert!(root.inner_html().contains("the portal's session expired"));
    assert!(!shows_sign_in_form(&root));
    // The tokens the tab kept are not the host's: never read.
    assert!(
        root.query_selector("section[aria-label=Files]")
            .unwrap()
            .is_none()
    );
    wait_until("ferry-signed-out", || signed_out.count() == 1).await;
    assert_eq!(
        signed_out.details(),
        [r#"{"schemaVersion":1,"reason":"providerFailed"}"#]
    );
    assert_eq!(errors.count(), 1);
    let error = &errors.details()[0];
    assert!(error.contains(r#""code":"TokenProviderFailed""#), "{error}");
    assert!(error.contains("the portal's session expired"), "{error}");
    forget_session();
    element.remove();
}

#[wasm_bindgen_test]
async fn a_provider_answering_something_else_is_refused_as_invalid_tokens() {
    forget_session();
    let provider = Provider::new(|| {
        let tokens = Object::new();
        set_property(&tokens, "idToken", &JsValue::from_str(&fake_jwt("pat")));
        js_sys::Promise::resolve(&JsValue::from(tokens))
    });
    let element = ferry_files(INLINE);
    let errors = Heard::on_document("ferry-error", &element);
    set_property(&element, "tokenProvider", &provider.value());
    append(&element);
    wait_until("ferry-error", || errors.count() == 1).await;
    let error = &errors.details()[0];
    assert!(error.contains(r#""code":"InvalidTokens""#), "{error}");
    assert!(error.contains("no `accessToken`"), "{error}");
    let root = shadow(&element);
    wait_for(&root, "[role=alert] h1").await;
    element.remove();
}

#[wasm_bindgen_test]
async fn clearing_the_provider_or_sign_out_ends_the_session_until_one_is_set_again() {
    forget_session();
    let provider = Provider::answering("pat");
    let element = ferry_files(INLINE);
    let signed_out = Heard::on_document("ferry-signed-out", &element);
    set_property(&element, "tokenProvider", &provider.value());
    append(&element);
    let root = shadow(&element);
    wait_for(&root, "section[aria-label=Files]").await;
    let mounted = instance(&element);

    set_property(&element, "tokenProvider", &JsValue::NULL);
    let status = wait_for(&root, "section[role=status] h1").await;
    assert_eq!(status.text_content().unwrap(), "Signed out");
    assert!(
        root.query_selector("section[aria-label=Files]")
            .unwrap()
            .is_none()
    );
    assert!(
        !shows_sign_in_form(&root),
        "no form after the host's provider"
    );
    wait_until("ferry-signed-out", || signed_out.count() == 1).await;
    assert_eq!(
        signed_out.details(),
        [r#"{"schemaVersion":1,"reason":"host"}"#]
    );
    assert!(
        Object::is(&mounted, &instance(&element)),
        "the same instance"
    );

    // Handed over again: signed in again.
    set_property(&element, "tokenProvider", &provider.value());
    wait_for(&root, "section[aria-label=Files]").await;

    // `signOut()` ends it too.
    call(&element, "signOut", &[]);
    wait_for(&root, "section[role=status] h1").await;
    wait_until("a second ferry-signed-out", || signed_out.count() == 2).await;
    assert!(signed_out.details()[1].contains(r#""reason":"host""#));
    element.remove();
}

#[wasm_bindgen_test]
async fn a_provider_set_after_mounting_replaces_the_sign_in_form() {
    forget_session();
    let element = ferry_files(INLINE);
    append(&element);
    let root = shadow(&element);
    wait_for(&root, "input[type=password]").await;
    let before = instance(&element);

    let provider = Provider::answering("pat");
    set_property(&element, "tokenProvider", &provider.value());
    assert!(!Object::is(&before, &instance(&element)), "a new instance");
    wait_for(&root, "section[aria-label=Files]").await;
    assert!(!shows_sign_in_form(&root));
    element.remove();
}

#[wasm_bindgen_test]
fn a_token_provider_that_isnt_a_function_is_refused() {
    let element = ferry_files(INLINE);
    let refused = js_sys::Reflect::set(
        &element,
        &JsValue::from_str("tokenProvider"),
        &JsValue::from_str("a token"),
    );
    let error = refused.expect_err("a TypeError");
    assert!(error.is_instance_of::<js_sys::TypeError>());
    assert!(property(&element, "tokenProvider").is_null());
}

#[wasm_bindgen_test]
async fn a_failure_after_start_is_told_to_the_page_as_ferry_error() {
    forget_session();
    keep_session("tess");
    let element = ferry_files(INLINE);
    let errors = Heard::on_document("ferry-error", &element);
    append(&element);
    // Nothing listens where the API should be: the folder can't be read.
    wait_until("ferry-error", || errors.count() >= 1).await;
    let error = &errors.details()[0];
    assert!(error.contains(r#""code":"Unreachable""#), "{error}");
    assert!(error.contains(r#""retryable":true"#), "{error}");
    assert!(error.contains("can't reach the server"), "{error}");
    forget_session();
    element.remove();
}
