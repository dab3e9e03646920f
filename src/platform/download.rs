//! Handing a presigned download to the browser: a temporary link with a
//! `download` name, clicked and removed. The bytes never pass through the
//! page, and the file never opens in Ferry's origin.

use wasm_bindgen::JsCast;

/// Starts the browser's download of `url`, saved as `name`.
pub fn save(url: &str, name: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(link) = document.create_element("a") else {
        return;
    };
    let _ = link.set_attribute("href", url);
    let _ = link.set_attribute("download", name);
    let _ = link.set_attribute("hidden", "");
    if let Some(body) = document.body() {
        let _ = body.append_child(&link);
        if let Some(link) = link.dyn_ref::<web_sys::HtmlElement>() {
            link.click();
        }
        let _ = body.remove_child(&link);
    }
}
