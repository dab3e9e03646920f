//! `use_paste`: files pasted anywhere on the page, until the calling
//! component unmounts. A paste without files is left to the page.

use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// Calls `on_files` with the files of every paste that has some.
pub fn use_paste(on_files: impl Fn(web_sys::FileList) + 'static) {
    let listener = window_event_listener(leptos::ev::paste, move |ev| {
        let files = ev.clipboard_data().and_then(|d| d.files());
        if let Some(files) = files
            && files.length() > 0
        {
            ev.prevent_default();
            on_files(files);
        }
    });
    let listener = SendWrapper::new(listener);
    on_cleanup(move || listener.take().remove());
}
