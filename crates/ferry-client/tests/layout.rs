//! The core's invariant, held by a test as well as by the compiler: it
//! depends on nothing that reaches the browser, so DOM, network and timer
//! code can't be written here (it wouldn't compile), and nobody adds the
//! dependency that would let it.

/// Crates that reach the DOM, the network, timers or JavaScript.
const BROWSER_CRATES: [&str; 9] = [
    "web-sys",
    "js-sys",
    "wasm-bindgen",
    "wasm-bindgen-futures",
    "leptos",
    "gloo-net",
    "gloo-timers",
    "send_wrapper",
    "reqwest",
];

#[test]
fn the_core_depends_on_nothing_that_reaches_the_browser() {
    let manifest = include_str!("../Cargo.toml");
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if !section.contains("dependencies") || line.starts_with('#') {
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        assert!(
            !BROWSER_CRATES.contains(&name),
            "{section} lists {name}: the core must stay free of browser crates; \
             put the side effect in the shell (src/api, src/platform, src/hooks)"
        );
    }
}
