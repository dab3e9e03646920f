//! The Activity panel, a chunk of its own: every command sent from this
//! page, its status, the events it caused, and its trace id (to find it in
//! the backend's logs).

use crate::chunks;
use ferry_client::activity::{Activity, Status};
use leptos::prelude::*;

chunks::split_point! {
    activity =>
    /// Loads the Activity panel: the activity chunk's entry.
    pub fn activity_panel() -> fn(RwSignal<Activity>) -> AnyView {
        |activity| view! { <ActivityPanel activity=activity /> }.into_any()
    }
}

#[component]
fn ActivityPanel(activity: RwSignal<Activity>) -> impl IntoView {
    view! {
        <aside class="ferry-activity" aria-label="Activity">
            <h2>"Activity"</h2>
            {move || activity.with(|a| {
                if a.entries().next().is_none() {
                    return view! { <p class="ferry-muted">"Nothing yet. What you do here is listed with what it caused."</p> }.into_any();
                }
                view! { <ol class="ferry-activity-list">{a.entries().map(|entry| {
                    let (status, class) = match &entry.status {
                        Status::Pending => ("Pending".to_owned(), "ferry-pending"),
                        Status::Done => ("Done".to_owned(), "ferry-done"),
                        Status::Failed(reason) => (format!("Failed: {reason}"), "ferry-failed"),
                    };
                    let steps = entry.steps.iter().map(|s| s.action.clone()).collect::<Vec<_>>().join(" → ");
                    view! {
                        <li>
                            <span class="ferry-activity-title">{entry.title.clone()}</span>
                            <span class=class>{status}</span>
                            <span class="ferry-muted">{if steps.is_empty() { "Waiting for its event".to_owned() } else { steps }}</span>
                            <code class="ferry-trace" title="Trace ID">{format!("Trace {}", entry.trace_id)}</code>
                        </li>
                    }
                }).collect_view()}</ol> }.into_any()
            })}
        </aside>
    }
}
