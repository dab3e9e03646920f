//! Where the person is: the breadcrumbs of the folder shown, and the search
//! box (a search is part of the URL, so back and forward work).

use super::Ctx;
use ferry_client::route::Route;
use ferry_protocol::FolderPath;
use leptos::prelude::*;

/// The breadcrumbs and the search box.
#[component]
pub fn PathBar(ctx: Ctx) -> impl IntoView {
    let (route, navigate) = (ctx.route, ctx.navigate);
    let search_text = RwSignal::new(route.get_untracked().search.unwrap_or_default());
    let submit_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = search_text.get_untracked().trim().to_owned();
        let folder = route.get_untracked().folder;
        navigate.run(Route {
            folder,
            search: (!text.is_empty()).then_some(text),
        });
    };
    let breadcrumbs = move || {
        let (folder, searching) = route.with(|r| (r.folder.clone(), r.search.is_some()));
        let mut crumbs = vec![("Home".to_owned(), FolderPath::root())];
        let mut path = String::new();
        for segment in folder.segments() {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(segment);
            crumbs.push((
                segment.to_owned(),
                FolderPath::parse(&path).unwrap_or_default(),
            ));
        }
        let last = crumbs.len() - 1;
        crumbs
            .into_iter()
            .enumerate()
            .map(|(i, (name, path))| {
                let href = Route::folder(path).to_hash();
                let current = (i == last && !searching).then_some("page");
                view! { <li><a href=href aria-current=current>{name}</a></li> }
            })
            .collect_view()
    };
    view! {
        <div class="ferry-toolbar">
            <nav aria-label="Breadcrumb" class="ferry-crumbs"><ol>{breadcrumbs}</ol></nav>
            <form class="ferry-search" role="search" on:submit=submit_search>
                <input type="search" aria-label="Search all files" placeholder="Search all files"
                    prop:value=move || search_text.get()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        // Emptied (or cleared with its ×): back to the folder.
                        if text.trim().is_empty() && route.with_untracked(|r| r.search.is_some()) {
                            navigate.run(Route::folder(route.get_untracked().folder));
                        }
                        search_text.set(text);
                    } />
            </form>
        </div>
    }
}
