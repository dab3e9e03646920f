//! `use_expiry`: a notice that goes by itself a while after it shows (the
//! undo offered after an action), but never while the person is at it:
//! while `held` (focus or the pointer inside it), the time starts again
//! when they leave.

use leptos::prelude::*;
use std::time::Duration;

/// Clears `shown` `after` it was set (or after `held` last turned false),
/// unless another notice (another number) replaced it meanwhile. The timer
/// goes with the calling component.
pub fn use_expiry<T>(shown: RwSignal<Option<(u64, T)>>, after: Duration, held: Signal<bool>)
where
    T: Send + Sync + 'static,
{
    Effect::new(move |_| {
        let Some(number) = shown.with(|s| s.as_ref().map(|(n, _)| *n)) else {
            return;
        };
        if held.get() {
            return;
        }
        let handle = set_timeout_with_handle(
            move || {
                if shown.with_untracked(|s| s.as_ref().map(|(n, _)| *n)) == Some(number) {
                    shown.try_set(None);
                }
            },
            after,
        )
        .ok();
        // A new notice, or the person coming back to it, replaces the timer.
        on_cleanup(move || {
            if let Some(handle) = handle {
                handle.clear();
            }
        });
    });
}
