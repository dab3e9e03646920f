//! What the person is told: a polite live region that screen readers
//! announce, and the one problem shown (and announced) until dismissed.
//! A problem that is a failure (a request refused or unanswered, an upload
//! that stopped, a part of the app that couldn't load) is told to the host
//! page too, as `ferry-error`. Each mounted app has its own.

use crate::host::Host;
use ferry_client::failure::ApiFailure;
use ferry_protocol::host::{ElementErrorCode, ErrorV1};
use leptos::prelude::*;

/// The live region's text and the problem shown. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Notices {
    /// The live region's text.
    pub announce: RwSignal<String>,
    /// The problem shown, if any.
    pub problem: RwSignal<Option<String>>,
    /// The page around the instance, told of failures.
    host: StoredValue<Host>,
}

impl Notices {
    /// Nothing said yet; failures are told to `host`.
    pub fn new(host: Host) -> Self {
        Self {
            announce: RwSignal::new(String::new()),
            problem: RwSignal::new(None),
            host: StoredValue::new(host),
        }
    }

    /// Says something through the live region.
    pub fn say(&self, text: impl Into<String>) {
        // A changed text is what screen readers announce; the same text twice
        // in a row is made different by a zero-width space.
        let text = text.into();
        let same = self
            .announce
            .try_with_untracked(|now| now.trim_end_matches('\u{200b}') == text)
            .unwrap_or(false);
        self.announce.try_set(if same {
            format!("{text}\u{200b}")
        } else {
            text
        });
    }

    /// Shows and announces a problem that isn't a failure the host page
    /// needs to hear of (a folder deleted meanwhile, a wrong file chosen).
    pub fn fail(&self, message: &str) {
        self.problem.try_set(Some(message.to_owned()));
        self.say(message.to_owned());
    }

    /// Shows and announces `shown`, and tells the host page `error`.
    pub fn report(&self, shown: &str, error: &ErrorV1) {
        self.fail(shown);
        self.tell_host(error);
    }

    /// Tells the host page `error`, shown to the person some other way.
    pub fn tell_host(&self, error: &ErrorV1) {
        self.host.with_value(|host| host.emit_event(error));
    }

    /// A request failed: shows "`context`: why", and tells the host page
    /// the API's code (with its trace id) or `Unreachable`.
    pub fn refused(&self, context: &str, failure: &ApiFailure) {
        let error = ferry_client::host::request_error(failure);
        self.report(&format!("{context}: {failure}"), &error);
    }

    /// Something failed in the element itself: shows `shown`, and tells
    /// the host page `code` with the same sentence.
    pub fn failed(&self, code: ElementErrorCode, shown: &str) {
        self.report(shown, &ErrorV1::new(code, shown));
    }

    /// Hides the problem.
    pub fn dismiss(&self) {
        self.problem.set(None);
    }
}
