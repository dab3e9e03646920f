//! What the person is told: a polite live region that screen readers
//! announce, and the one problem shown (and announced) until dismissed.
//! Each mounted app has its own.

use leptos::prelude::*;

/// The live region's text and the problem shown. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Notices {
    /// The live region's text.
    pub announce: RwSignal<String>,
    /// The problem shown, if any.
    pub problem: RwSignal<Option<String>>,
}

impl Notices {
    /// Nothing said yet.
    pub fn new() -> Self {
        Self {
            announce: RwSignal::new(String::new()),
            problem: RwSignal::new(None),
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

    /// Shows and announces a problem.
    pub fn fail(&self, message: &str) {
        self.problem.try_set(Some(message.to_owned()));
        self.say(message.to_owned());
    }

    /// Hides the problem.
    pub fn dismiss(&self) {
        self.problem.set(None);
    }
}

impl Default for Notices {
    fn default() -> Self {
        Self::new()
    }
}
