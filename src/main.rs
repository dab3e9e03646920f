//! The browser entry point: mount Ferry into `#ferry`, or into `<body>`.

use wasm_bindgen::JsCast;

fn main() {
    let document = web_sys::window().and_then(|w| w.document());
    let Some(document) = document else { return };
    let parent = document
        .get_element_by_id("ferry")
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        .or_else(|| document.body());
    if let Some(parent) = parent {
        // The app lives as long as the page.
        ferry_web::mount(parent).forget();
    }
}
