//! `use_copy_check`: checks a copy the person chose against a stored file —
//! sizes first, then the SHA-256 read in the hashing worker. The hook owns
//! the worker: choosing another copy replaces it, and unmounting (closing
//! the dialog) stops it.

use crate::platform::hasher::{Hashed, Hasher};
use ferry_client::verify::Check;
use leptos::prelude::*;

/// What `use_copy_check` gives back.
#[derive(Debug, Clone, Copy)]
pub struct UseCopyCheckReturn {
    /// Where the check stands.
    pub check: ReadSignal<Check>,
    /// Starts checking a chosen copy.
    pub check_copy: Callback<web_sys::File>,
}

/// Checks copies against a stored file of `size` bytes whose SHA-256 (hex)
/// is `stored`.
pub fn use_copy_check(stored: String, size: u64) -> UseCopyCheckReturn {
    let (check, set_check) = signal(Check::Waiting);
    let hashing = StoredValue::new_local(None::<Hasher>);
    on_cleanup(move || {
        hashing.try_set_value(None);
    });
    let stored = StoredValue::new(stored);
    let check_copy = Callback::new(move |file: web_sys::File| {
        hashing.set_value(None);
        let start = Check::start(file.size() as u64, size);
        let reading = !start.is_over();
        set_check.set(start);
        if !reading {
            return;
        }
        let heard = move |news: Hashed| match news {
            Hashed::Read(read) => {
                set_check.update(|c| {
                    if let Check::Reading { of, .. } = *c {
                        *c = Check::Reading { read, of };
                    }
                });
            }
            Hashed::File(sha256) => {
                set_check.update(|c| *c = stored.with_value(|s| c.hashed(&sha256, s)));
            }
            Hashed::Failed(reason) => set_check.set(Check::Unreadable(reason)),
            Hashed::Part(..) => {}
        };
        match Hasher::whole(&file, heard) {
            Ok(hasher) => hashing.set_value(Some(hasher)),
            Err(_) => set_check.set(Check::Unreadable(
                "the browser couldn't start reading it".into(),
            )),
        }
    });
    UseCopyCheckReturn { check, check_copy }
}
