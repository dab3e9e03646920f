//! SHA-256 off the page's thread: the hashing worker (`js/hash-worker.js`)
//! for a file's parts while they upload, and for a whole file of any size
//! (checking a downloaded copy); WebCrypto for a file small enough to go up
//! in one PUT. A [`Hasher`] owns its workers: dropping it stops them, so
//! whoever holds it (an upload, the copy check) cleans up by dropping. A
//! [`Warm`] worker is started ahead, when a person heads for an upload, so
//! its script is loaded and running by the time a file is picked.

use wasm_bindgen::prelude::*;

/// What the worker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashed {
    /// Part `n`'s SHA-256, base64.
    Part(u32, String),
    /// While hashing a whole file: this many bytes read.
    Read(u64),
    /// The whole file's SHA-256, hex.
    File(String),
    /// The file couldn't be read.
    Failed(String),
}

/// A hashing worker with nothing to hash yet; dropping it stops it.
#[derive(Debug)]
pub struct Warm {
    worker: web_sys::Worker,
    /// The `blob:` URL the worker started from, when Ferry's scripts come
    /// from another origin than the page's; revoked with the worker.
    blob_url: Option<String>,
}

impl Warm {
    /// Starts a hashing worker; it loads its script and waits for a file.
    pub fn start() -> Result<Self, JsValue> {
        let url = wasm_bindgen::link_to!(module = "/js/hash-worker.js");
        let blob_url = same_origin_start(&url)?;
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        match web_sys::Worker::new_with_options(blob_url.as_deref().unwrap_or(&url), &options) {
            Ok(worker) => Ok(Self { worker, blob_url }),
            Err(error) => {
                if let Some(url) = &blob_url {
                    let _ = web_sys::Url::revoke_object_url(url);
                }
                Err(error)
            }
        }
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.terminate();
        if let Some(url) = &self.blob_url {
            let _ = web_sys::Url::revoke_object_url(url);
        }
    }
}

/// A running hasher; dropping it stops its workers.
#[derive(Debug)]
pub struct Hasher {
    workers: Vec<Warm>,
    /// Every worker's message handler (one closure), kept alive with them.
    on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Hasher {
    /// Starts hashing `file` in parts of `part_size`, in `workers` workers
    /// that share the parts (part n goes to worker n mod `workers`, so the
    /// first parts are ready sooner): `report` hears each part's SHA-256
    /// (WebCrypto), not necessarily in order, up to part `until`;
    /// [`Self::allow`] lets them go further. The `warm` workers are used
    /// first.
    pub fn parts(
        file: &web_sys::Blob,
        part_size: u64,
        until: u32,
        (warm, workers): (Vec<Warm>, u32),
        report: impl Fn(Hashed) + 'static,
    ) -> Result<Self, JsValue> {
        Self::start(
            file,
            part_size,
            (true, false),
            Some(until),
            (warm, workers),
            report,
        )
    }

    /// Lets the workers hash parts up to `until`.
    pub fn allow(&self, until: u32) {
        let message = js_sys::Object::new();
        if js_sys::Reflect::set(&message, &"until".into(), &until.into()).is_ok() {
            for warm in &self.workers {
                let _ = warm.worker.post_message(&message);
            }
        }
    }

    /// Starts hashing the whole of `file` with a streaming SHA-256 (WebCrypto
    /// only hashes whole buffers): `report` hears [`Hashed::File`] at the end.
    pub fn whole(file: &web_sys::Blob, report: impl Fn(Hashed) + 'static) -> Result<Self, JsValue> {
        Self::start(
            file,
            16 * 1024 * 1024,
            (false, true),
            None,
            (Vec::new(), 1),
            report,
        )
    }

    fn start(
        file: &web_sys::Blob,
        part_size: u64,
        (parts, whole): (bool, bool),
        until: Option<u32>,
        (warm, workers): (Vec<Warm>, u32),
        report: impl Fn(Hashed) + 'static,
    ) -> Result<Self, JsValue> {
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(news) = read(&event.data()) {
                    report(news);
                }
            },
        );
        let message = js_sys::Object::new();
        js_sys::Reflect::set(&message, &"file".into(), file)?;
        js_sys::Reflect::set(&message, &"partSize".into(), &(part_size as f64).into())?;
        js_sys::Reflect::set(&message, &"parts".into(), &parts.into())?;
        js_sys::Reflect::set(&message, &"whole".into(), &whole.into())?;
        js_sys::Reflect::set(&message, &"stride".into(), &workers.max(1).into())?;
        if let Some(until) = until {
            js_sys::Reflect::set(&message, &"until".into(), &until.into())?;
        }
        // Made whole first, so a failed start leaves no worker running.
        let mut hasher = Self {
            workers: Vec::new(),
            on_message,
        };
        let mut warm = warm.into_iter();
        for first in 1..=workers.max(1) {
            let worker = match warm.next() {
                Some(worker) => worker,
                None => Warm::start()?,
            };
            worker
                .worker
                .set_onmessage(Some(hasher.on_message.as_ref().unchecked_ref()));
            js_sys::Reflect::set(&message, &"first".into(), &first.into())?;
            worker.worker.post_message(&message)?;
            hasher.workers.push(worker);
        }
        Ok(hasher)
    }
}

/// A browser starts a worker only from the page's own origin. When Ferry's
/// scripts come from another (a portal loads `ferry.js` from Ferry's
/// server), the worker starts from a `blob:` module of the page's origin
/// that imports the worker script from Ferry's, with CORS as every asset
/// is served. Its URL, or `None` when `script` is the page's own origin.
/// (The portal's CSP must allow `worker-src blob:` and Ferry's origin: a
/// module worker's imports are checked against `worker-src`;
/// docs/embedding.md.)
fn same_origin_start(script: &str) -> Result<Option<String>, JsValue> {
    let page = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .location()
        .origin()?;
    if web_sys::Url::new(script)?.origin() == page {
        return Ok(None);
    }
    // A JSON string is a JS string literal.
    let quoted = js_sys::JSON::stringify(&JsValue::from_str(script))?;
    let source = js_sys::Array::of1(&format!("import {};", String::from(quoted)).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&source, &options)?;
    web_sys::Url::create_object_url_with_blob(&blob).map(Some)
}

/// The SHA-256 of a blob read whole, by WebCrypto: for files that go up in
/// one PUT, whose checksum is signed before the bytes leave, and a large
/// file's first part (to recognise it when resuming). Reading and hashing
/// both run off the page's thread; the blob is held in memory while it is
/// hashed, so this is for blobs below the multipart threshold.
pub async fn digest(blob: &web_sys::Blob) -> Result<Vec<u8>, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let bytes = wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await?;
    let subtle = window.crypto()?.subtle();
    let digest = wasm_bindgen_futures::JsFuture::from(
        subtle.digest_with_str_and_buffer_source("SHA-256", bytes.unchecked_ref())?,
    )
    .await?;
    Ok(js_sys::Uint8Array::new(&digest).to_vec())
}

/// Bytes as lower-case hex (the index's SHA-256).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Bytes as standard base64 (S3's `x-amz-checksum-sha256`), by the
/// browser's `btoa`: no base64 code in the download.
pub fn base64(bytes: &[u8]) -> Option<String> {
    // `btoa` takes a "binary string": one character per byte.
    let binary: String = bytes.iter().copied().map(char::from).collect();
    web_sys::window()?.btoa(&binary).ok()
}

fn read(data: &JsValue) -> Option<Hashed> {
    let field = |name: &str| js_sys::Reflect::get(data, &name.into()).ok();
    if let Some(error) = field("error").and_then(|e| e.as_string()) {
        return Some(Hashed::Failed(error));
    }
    if let Some(sha256) = field("sha256").and_then(|s| s.as_string()) {
        return Some(Hashed::File(sha256));
    }
    if let Some(read) = field("read").and_then(|r| r.as_f64()) {
        return Some(Hashed::Read(read as u64));
    }
    let part = field("part")?.as_f64()? as u32;
    let checksum = field("checksum")?.as_string()?;
    Some(Hashed::Part(part, checksum))
}
