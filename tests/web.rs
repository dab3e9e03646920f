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
    ("api-url", "https://api.example.com"),
    ("websocket-url", "wss://ws.example.com"),
    ("region", "eu-west-1"),
    ("user-pool-id", "eu-west-1_Portal"),
    ("user-pool-client-id", "abc"),
    ("environment", "portal"),
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
    let root = host(&[("config-url", "/no-such-config.json")]);
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
        ("api-url", "https://api.example.com"),
        ("auth-mode", "magic"),
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

/// Folding for search and the filter uses the browser's `toLowerCase`: the
/// same answers as Rust's `to_lowercase` gives natively.
#[wasm_bindgen_test]
fn case_folding_in_the_browser_matches_the_native_one() {
    for (given, folded) in ferry_protocol::path::FOLD_EXAMPLES {
        assert_eq!(ferry_protocol::path::fold(given), *folded, "{given:?}");
    }
}

/// Times are read and written by the browser's `Date`: the same instants
/// the native parser reads, and only full RFC 3339 times with a zone.
#[wasm_bindgen_test]
fn times_in_the_browser_read_as_natively() {
    use ferry_protocol::envelope::{TIME_EXAMPLES, Timestamp};
    for (text, millis) in TIME_EXAMPLES {
        assert_eq!(
            Timestamp::parse(text).map(Timestamp::unix_millis),
            *millis,
            "{text}"
        );
    }
    let at = 1_772_528_707_123;
    let written = Timestamp::from_unix_millis(at).unwrap().to_string();
    assert_eq!(written, "2026-03-03T09:05:07.123Z");
    assert_eq!(Timestamp::parse(&written).unwrap().unix_millis(), at);
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

/// Tokens for `name`, valid for an hour, as the page stores them.
fn session_tokens(name: &str) -> String {
    let token = fake_jwt(name);
    serde_json::json!({
        "id_token": token, "access_token": token, "refresh_token": null,
        "expires_at": (js_sys::Date::now() / 1000.0) as i64 + 3600,
    })
    .to_string()
}

/// A kept session for `name` in this tab's sessionStorage (where the page
/// looks by default); the storage, to clean up after.
fn keep_session(name: &str) -> web_sys::Storage {
    let storage = web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap();
    storage
        .set_item("ferry.tokens", &session_tokens(name))
        .unwrap();
    storage
}

/// Counts the page's WebSocket connections from now on.
fn count_websockets() {
    js_sys::eval(
        "if (!window.__ferryRealSocket) { window.__ferryRealSocket = window.WebSocket; }\
         window.__ferrySockets = 0;\
         window.WebSocket = function (url) { window.__ferrySockets++; return new window.__ferryRealSocket(url); };",
    )
    .unwrap();
}

fn websockets_opened() -> f64 {
    js_sys::eval("window.__ferrySockets")
        .unwrap()
        .as_f64()
        .unwrap()
}

#[wasm_bindgen_test]
async fn signed_in_with_the_api_down_the_browser_says_so_and_unmounting_stops_reconnecting() {
    let storage = keep_session("tess");
    count_websockets();
    // Nothing listens on port 9 of this machine: every request is refused.
    let root = host(&[
        ("api-url", "http://127.0.0.1:9/api"),
        ("websocket-url", "ws://127.0.0.1:9/ws"),
        ("region", "eu-west-1"),
        ("user-pool-id", "eu-west-1_Portal"),
        ("user-pool-client-id", "abc"),
    ]);
    let handle = ferry_web::mount(root.clone());
    let heading = wait_for(&root, "#ferry-account-name").await;
    assert_eq!(heading.text_content().unwrap(), "Signed in as tess");
    let files = wait_for(&root, "section[aria-label=Files]").await;
    // The error state, with a way to try again.
    for _ in 0..100 {
        if files.text_content().unwrap().contains("couldn't be loaded") {
            break;
        }
        sleep(50).await;
    }
    let text = files.text_content().unwrap();
    assert!(
        text.contains("The files couldn't be loaded: Ferry can't reach the server"),
        "{text}"
    );
    assert!(root.query_selector("button").unwrap().is_some());
    let retry = (0..root.query_selector_all("button").unwrap().length())
        .filter_map(|i| root.query_selector_all("button").unwrap().item(i))
        .any(|b| b.text_content().unwrap() == "Try again");
    assert!(retry, "no Try again button");
    // The socket was tried (and refused).
    assert!(websockets_opened() >= 1.0);

    drop(handle);
    leptos::task::tick().await;
    assert_eq!(root.child_element_count(), 0);
    // Unmounted, the app stops reconnecting: no socket after the backoff.
    let before = websockets_opened();
    sleep(2500).await;
    assert_eq!(
        websockets_opened(),
        before,
        "the app kept reconnecting after unmount"
    );
    storage.remove_item("ferry.tokens").unwrap();
    root.remove();
}

#[wasm_bindgen_test]
async fn tokens_go_to_local_storage_only_when_configured() {
    let window = web_sys::window().unwrap();
    let local = window.local_storage().unwrap().unwrap();
    let session = window.session_storage().unwrap().unwrap();
    session.remove_item("ferry.tokens").unwrap();
    local
        .set_item("ferry.tokens", &session_tokens("lou"))
        .unwrap();
    let settings = [
        ("api-url", "http://127.0.0.1:9/api"),
        ("websocket-url", "ws://127.0.0.1:9/ws"),
        ("region", "eu-west-1"),
        ("user-pool-id", "eu-west-1_Portal"),
        ("user-pool-client-id", "abc"),
    ];
    // By default the page reads sessionStorage: the tokens in localStorage
    // are not a session, and the form shows.
    let root = host(&settings);
    let handle = ferry_web::mount(root.clone());
    wait_for(&root, "form").await;
    assert!(
        root.query_selector("#ferry-account-name")
            .unwrap()
            .is_none()
    );
    drop(handle);
    root.remove();
    // Configured for localStorage, the same tokens sign the page in, and
    // signing out removes them from there.
    let mut with_local = settings.to_vec();
    with_local.push(("token-storage", "local"));
    let root = host(&with_local);
    let handle = ferry_web::mount(root.clone());
    let heading = wait_for(&root, "#ferry-account-name").await;
    assert_eq!(heading.text_content().unwrap(), "Signed in as lou");
    let sign_out = (0..root.query_selector_all("button").unwrap().length())
        .filter_map(|i| root.query_selector_all("button").unwrap().item(i))
        .find(|b| b.text_content().unwrap() == "Sign out")
        .expect("a Sign out button");
    sign_out.unchecked_ref::<web_sys::HtmlElement>().click();
    wait_for(&root, "form").await;
    assert_eq!(local.get_item("ferry.tokens").unwrap(), None);
    assert_eq!(session.get_item("ferry.tokens").unwrap(), None);
    drop(handle);
    root.remove();
}

/// Waits (at most 30 s) until `done` says what the worker said is enough.
async fn until_heard(
    heard: &std::cell::RefCell<Vec<ferry_web::platform::hasher::Hashed>>,
    done: impl Fn(&[ferry_web::platform::hasher::Hashed]) -> bool,
) {
    for _ in 0..600 {
        if done(&heard.borrow()) {
            break;
        }
        sleep(50).await;
    }
}

#[wasm_bindgen_test]
async fn the_hashing_worker_and_webcrypto_agree_with_sha2() {
    use base64::Engine as _;
    use ferry_web::platform::hasher::{self, Hashed, Hasher, Warm};
    use sha2::Digest as _;
    const PART: usize = 5 * 1024 * 1024;
    // Three whole parts and a short last one, not a multiple of 64 bytes.
    let bytes: Vec<u8> = (0..(3 * PART + 12_345))
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let array = js_sys::Uint8Array::from(&bytes[..]);
    let parts = js_sys::Array::of1(&array);
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).unwrap();
    let whole: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    // The parts, as a multipart upload signs them: each part's, in order
    // from one worker; from two, each part once, whichever is first; and
    // the same from two workers started ahead (as when a person heads for
    // an upload), already running when the file comes.
    let b64 = base64::engine::general_purpose::STANDARD;
    let expected: Vec<Hashed> = bytes
        .chunks(PART)
        .enumerate()
        .map(|(i, chunk)| Hashed::Part(i as u32 + 1, b64.encode(sha2::Sha256::digest(chunk))))
        .collect();
    for (ahead, workers) in [(0, 1), (0, 2), (2, 2)] {
        let warm: Vec<Warm> = (0..ahead).map(|_| Warm::start().unwrap()).collect();
        if ahead > 0 {
            sleep(300).await;
        }
        let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = heard.clone();
        let hashing = Hasher::parts(&blob, PART as u64, 2, (warm, workers), move |news| {
            sink.borrow_mut().push(news)
        })
        .unwrap();
        // Two parts, then no more until it's allowed.
        until_heard(&heard, |h| h.len() >= 2).await;
        sleep(300).await;
        assert_eq!(
            heard.borrow().len(),
            2,
            "{workers} workers read past what they were allowed"
        );
        hashing.allow(4);
        until_heard(&heard, |h| h.len() >= 4).await;
        sleep(100).await;
        drop(hashing);
        let mut got = heard.borrow().clone();
        if workers == 1 {
            assert_eq!(got, expected, "one worker, in order");
        }
        got.sort_by_key(|h| match h {
            Hashed::Part(n, _) => *n,
            _ => 0,
        });
        assert_eq!(got, expected, "{workers} workers, {ahead} started ahead");
    }

    // The whole file, streamed (checking a downloaded copy).
    let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = heard.clone();
    let _hashing = Hasher::whole(&blob, move |news| sink.borrow_mut().push(news)).unwrap();
    until_heard(&heard, |h| {
        h.iter()
            .any(|h| matches!(h, Hashed::File(_) | Hashed::Failed(_)))
    })
    .await;
    // Progress as it reads (16 MiB at a time: once here), then the hash.
    assert_eq!(
        *heard.borrow(),
        vec![
            Hashed::Read(bytes.len() as u64),
            Hashed::File(whole.clone())
        ]
    );

    // A file for one PUT, by WebCrypto.
    assert_eq!(hasher::hex(&hasher::digest(&blob).await.unwrap()), whole);
    // The same digest in base64 by the browser's btoa, as S3's checksum
    // header wants it.
    assert_eq!(
        hasher::base64(&hasher::digest(&blob).await.unwrap()).unwrap(),
        b64.encode(sha2::Sha256::digest(&bytes))
    );
}

/// Answers the page's `fetch` for two file APIs (`a.test` and `b.test`),
/// each with its own files: a stand-in for two backends, so two apps on one
/// page can be told apart. Commands are refused (503), so an upload stops
/// after `CreateFile`, still listed in its own app's queue.
fn two_backends() {
    js_sys::eval(
        r#"
        if (!window.__ferryRealFetch) { window.__ferryRealFetch = window.fetch; }
        const json = (body, status = 200) =>
          new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
        const file = (name) => ({
          type: 'file', fileId: crypto.randomUUID(), folder: '', name, status: 'available',
          size: 5, contentType: 'text/plain', version: 1,
          createdAt: '2026-12-01T00:00:00Z', updatedAt: '2026-12-01T00:00:00Z',
        });
        const files = { 'a.test': [file('alpha.txt'), file('apple.txt')], 'b.test': [file('bravo.txt'), file('banana.txt')] };
        window.fetch = async (input, init) => {
          const url = new URL(typeof input === 'string' ? input : input.url);
          const mine = files[url.host];
          if (!mine) return window.__ferryRealFetch(input, init);
          if (url.pathname.endsWith('/files')) return json({ folder: '', entries: mine });
          if (url.pathname.endsWith('/usage')) return json({ bytes: 10, files: 2 });
          if (url.pathname.endsWith('/events')) return json({ events: [], cursor: 0, more: false });
          return json({ code: 'Unavailable', message: 'Not in this test.', retryable: true }, 503);
        };
        "#,
    )
    .unwrap();
}

fn backend(host_name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("api-url", format!("http://{host_name}/api")),
        ("websocket-url", "ws://127.0.0.1:9/ws".to_owned()),
        ("region", "eu-west-1".to_owned()),
        ("user-pool-id", "eu-west-1_Portal".to_owned()),
        ("user-pool-client-id", "abc".to_owned()),
    ]
}

fn mount_backend(host_name: &str) -> web_sys::HtmlElement {
    let attributes = backend(host_name);
    let attributes: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    host(&attributes)
}

/// A file the page can hand to an input or a paste.
fn a_file(name: &str) -> web_sys::DataTransfer {
    let transfer = web_sys::DataTransfer::new().unwrap();
    let parts = js_sys::Array::of1(&js_sys::JsString::from("hello"));
    let file = web_sys::File::new_with_str_sequence(&parts, name).unwrap();
    transfer.items().add_with_file(&file).unwrap();
    transfer
}

/// Waits (a bounded number of turns) until `root`'s text passes `check`.
async fn wait_for_text(root: &web_sys::Element, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        leptos::task::tick().await;
        let text = root.text_content().unwrap_or_default();
        if check(&text) {
            return text;
        }
        sleep(50).await;
    }
    panic!("the text never matched: {}", root.inner_html());
}

#[wasm_bindgen_test]
async fn two_apps_on_one_page_keep_their_own_selections_and_uploads() {
    let storage = keep_session("pat");
    two_backends();
    let (a, b) = (mount_backend("a.test"), mount_backend("b.test"));
    let handles = (ferry_web::mount(a.clone()), ferry_web::mount(b.clone()));
    let grid_a = wait_for(&a, "[role=grid]").await;
    let grid_b = wait_for(&b, "[role=grid]").await;
    assert!(grid_a.text_content().unwrap().contains("alpha.txt"));
    assert!(grid_b.text_content().unwrap().contains("bravo.txt"));

    // A selection in one app is that app's alone.
    let select: web_sys::HtmlElement = a
        .query_selector("input[aria-label='Select alpha.txt']")
        .unwrap()
        .expect("a checkbox for alpha.txt")
        .unchecked_into();
    select.click();
    wait_for(&a, "[role=region][aria-label=Selection]").await;
    assert!(
        b.query_selector("[role=region][aria-label=Selection]")
            .unwrap()
            .is_none(),
        "the other app shows a selection"
    );

    // A file picked in one app is queued in that app only.
    let input: web_sys::HtmlInputElement = a
        .query_selector("input[type=file][multiple]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    input.set_files(a_file("picked.txt").files().as_ref());
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    let uploads_a = wait_for(&a, "section[aria-label=Uploads]").await;
    wait_for_text(&uploads_a, |t| t.contains("picked.txt")).await;
    assert!(
        b.query_selector("section[aria-label=Uploads]")
            .unwrap()
            .is_none(),
        "the other app shows the upload"
    );

    // A paste goes to the app that has the focus.
    grid_b
        .unchecked_ref::<web_sys::HtmlElement>()
        .focus()
        .unwrap();
    let init = web_sys::ClipboardEventInit::new();
    init.set_clipboard_data(Some(&a_file("pasted.txt")));
    let paste = web_sys::ClipboardEvent::new_with_event_init_dict("paste", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&paste).unwrap();
    let uploads_b = wait_for(&b, "section[aria-label=Uploads]").await;
    wait_for_text(&uploads_b, |t| t.contains("pasted.txt")).await;
    assert!(
        !uploads_a.text_content().unwrap().contains("pasted.txt"),
        "the paste went to both apps"
    );

    drop(handles);
    leptos::task::tick().await;
    assert_eq!(a.child_element_count() + b.child_element_count(), 0);
    storage.remove_item("ferry.tokens").unwrap();
    a.remove();
    b.remove();
}
