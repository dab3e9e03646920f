//! Sending bytes straight to a presigned URL. This is the one request not
//! made with `gloo-net`: it uses `XMLHttpRequest` because `fetch` can't
//! report upload progress (a request body stream would, but Chromium sends
//! those only over HTTP/2 and in half-duplex, and S3's presigned endpoints
//! speak HTTP/1.1). The bytes never pass through the API; what a failure
//! means is `ferry_client::put`'s.

pub use ferry_client::put::PutFailure;
use ferry_protocol::api::PresignedRequest;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Headers the browser sets itself and refuses from scripts; the presigned
/// request signs them, and the browser sends the right values.
const SET_BY_BROWSER: [&str; 2] = ["content-length", "host"];

/// Where the `loadend` handler lives once the promise made it.
type EndSlot = Rc<RefCell<Option<Closure<dyn FnMut()>>>>;

/// A PUT on its way; [`Put::abort`] cancels it.
#[derive(Debug)]
pub struct Put {
    xhr: web_sys::XmlHttpRequest,
    done: JsFuture,
    // Kept alive until the request ends; the browser calls them until then.
    _on_progress: Closure<dyn FnMut(web_sys::ProgressEvent)>,
    _on_end: EndSlot,
}

impl Put {
    /// Starts sending `body` as `request` says; `on_progress` gets the bytes
    /// sent so far.
    pub fn start(
        request: &PresignedRequest,
        body: &web_sys::Blob,
        on_progress: impl Fn(f64) + 'static,
    ) -> Result<Self, JsValue> {
        let xhr = web_sys::XmlHttpRequest::new()?;
        xhr.open(&request.method, &request.url)?;
        for (name, value) in &request.headers {
            if !SET_BY_BROWSER.contains(&name.to_ascii_lowercase().as_str()) {
                xhr.set_request_header(name, value)?;
            }
        }
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
            move |event: web_sys::ProgressEvent| on_progress(event.loaded()),
        );
        xhr.upload()?
            .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        let on_end: EndSlot = Rc::new(RefCell::new(None));
        let slot = on_end.clone();
        let target = xhr.clone();
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let closure = Closure::<dyn FnMut()>::new(move || {
                let _ = resolve.call0(&JsValue::NULL);
            });
            target.set_onloadend(Some(closure.as_ref().unchecked_ref()));
            *slot.borrow_mut() = Some(closure);
        });
        xhr.send_with_opt_blob(Some(body))?;
        Ok(Self {
            xhr,
            done: JsFuture::from(promise),
            _on_progress: on_progress,
            _on_end: on_end,
        })
    }

    /// A handle that cancels this request.
    pub fn canceller(&self) -> web_sys::XmlHttpRequest {
        self.xhr.clone()
    }

    /// Waits for the answer; `Ok` with the object's ETag when stored.
    pub async fn finish(self) -> Result<Option<String>, PutFailure> {
        let _ = self.done.await;
        let status = self.xhr.status().unwrap_or(0);
        if status == 0 {
            return Err(PutFailure::Unreachable);
        }
        if (200..300).contains(&status) {
            return Ok(self.xhr.get_response_header("ETag").ok().flatten());
        }
        let body = self.xhr.response_text().ok().flatten().unwrap_or_default();
        Err(PutFailure::from_answer(status, &body))
    }
}
