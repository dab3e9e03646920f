//! The hashing worker (`js/hash-worker.js`): a file's parts' SHA-256 and
//! the whole file's, computed off the page's thread while the parts upload.

use wasm_bindgen::prelude::*;

/// What the worker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashed {
    /// Part `n`'s SHA-256, base64.
    Part(u32, String),
    /// The whole file's SHA-256, hex.
    File(String),
    /// The file couldn't be read.
    Failed(String),
}

/// A running hasher; dropping it stops its workers.
#[derive(Debug)]
pub struct Hasher {
    workers: Vec<web_sys::Worker>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Hasher {
    /// Starts hashing `file` in parts of `part_size`; `report` hears of
    /// each part in order, and of the whole file. Two workers read the
    /// file: the parts' checksums (WebCrypto) don't wait for the whole
    /// file's (a streaming SHA-256, slower).
    pub fn start(
        file: &web_sys::Blob,
        part_size: u64,
        report: impl Fn(Hashed) + 'static,
    ) -> Result<Self, JsValue> {
        let url = wasm_bindgen::link_to!(module = "/js/hash-worker.js");
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(news) = read(&event.data()) {
                    report(news);
                }
            },
        );
        let mut workers = Vec::new();
        for (parts, whole) in [(true, false), (false, true)] {
            let options = web_sys::WorkerOptions::new();
            options.set_type(web_sys::WorkerType::Module);
            let worker = web_sys::Worker::new_with_options(&url, &options)?;
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            let message = js_sys::Object::new();
            js_sys::Reflect::set(&message, &"file".into(), file)?;
            js_sys::Reflect::set(&message, &"partSize".into(), &(part_size as f64).into())?;
            js_sys::Reflect::set(&message, &"parts".into(), &parts.into())?;
            js_sys::Reflect::set(&message, &"whole".into(), &whole.into())?;
            worker.post_message(&message)?;
            workers.push(worker);
        }
        Ok(Self {
            workers,
            _on_message: on_message,
        })
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.set_onmessage(None);
            worker.terminate();
        }
    }
}

fn read(data: &JsValue) -> Option<Hashed> {
    let field = |name: &str| js_sys::Reflect::get(data, &name.into()).ok();
    if let Some(error) = field("error").and_then(|e| e.as_string()) {
        return Some(Hashed::Failed(error));
    }
    if let Some(sha256) = field("sha256").and_then(|s| s.as_string()) {
        return Some(Hashed::File(sha256));
    }
    let part = field("part")?.as_f64()? as u32;
    let checksum = field("checksum")?.as_string()?;
    Some(Hashed::Part(part, checksum))
}
