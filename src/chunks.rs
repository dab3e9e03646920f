//! How the client is cut into lazily loaded chunks. The first load is the
//! shell and the sign-in form; every other part starts at a split point,
//! declared with [`split_point!`] next to the code it loads: in the release
//! build (feature `split`, cut by `cargo xtask`'s pipeline) its body and
//! everything only it reaches go to a chunk that loads on the first call.
//! Without the feature (Trunk, the wasm-bindgen tests) they are plain calls.
//! Either way they are `async` and may fail: a chunk that can't be fetched
//! (offline, a deploy replaced it) is a [`ChunkError`] the page shows with
//! a way to try again ([`lazy_view`]), never a crash.
//!
//! ARCHITECTURE.md lists every chunk, what it holds and when it loads. The
//! rule behind them: the first load is what the sign-in page needs, and a
//! kept session's reload fetches only the `browser` chunk more before its
//! list shows; everything else sits behind a split point and loads on
//! first use, or once the list is in (`live`).

use crate::host::Host;
use leptos::prelude::*;
use std::pin::Pin;

/// A chunk of the app couldn't be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError;

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(ferry_client::host::CHUNK_LOAD_FAILED)
    }
}

impl std::error::Error for ChunkError {}

impl From<leptos::wasm_split::SplitLoaderError> for ChunkError {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Self
    }
}

/// A future made inside a chunk, run by the caller.
pub type ChunkFuture<T = ()> = Pin<Box<dyn Future<Output = T>>>;

/// Declares a split point: `chunk => fn name(args) -> T { .. }` becomes
/// `async fn name(args) -> Result<T, ChunkError>`, its body in `chunk`.
///
/// The split links each chunk with an `extern "C"` import and a
/// `no_mangle` export, unsafe attributes in generated code: each point sits
/// in a module of its own that allows them, so nothing else may.
macro_rules! split_point {
    ($chunk:ident => $(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty $body:block) => {
        #[allow(unsafe_code)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::chunks::ChunkError;

            $(#[$meta])*
            #[cfg(feature = "split")]
            #[leptos::wasm_split::wasm_split($chunk, wasm_split_path = ::leptos::wasm_split, fallible)]
            pub fn $name($($arg: $ty),*) -> Result<$out, ChunkError> {
                Ok($body)
            }

            $(#[$meta])*
            #[cfg(not(feature = "split"))]
            pub async fn $name($($arg: $ty),*) -> Result<$out, ChunkError> {
                Ok($body)
            }
        }
        $vis use self::$name::$name;
    };
}
pub(crate) use split_point;

/// A chunk's view, ready to build where it is wanted.
type Render = std::rc::Rc<dyn Fn() -> AnyView>;

/// A chunk on its way: its view once it is here.
type Loading = Pin<Box<dyn Future<Output = Result<Render, ChunkError>>>>;

/// Where a lazily loaded view stands.
#[derive(Clone)]
enum Phase {
    Loading,
    Ready(Render),
    Failed,
}

/// A view from a chunk. `load` fetches the chunk and hands back its
/// builder (a function in the chunk); `render` builds the view with it, in
/// the place and reactive scope of this call. `waiting` shows while the
/// chunk loads; if it can't be fetched, the reason and a button to try
/// again, and `host` (the page around the instance) hears `ferry-error`
/// `ChunkLoadFailed`, each time a try fails.
///
/// Plain signals and a task, no `Suspense`: the async resource machinery
/// would weigh on the first load, which this is part of. Only the wrapping
/// is generic; [`lazy`] does the work, one copy for every place.
pub fn lazy_view<B, L, Fut, R>(
    waiting: &'static str,
    host: StoredValue<Host>,
    load: L,
    render: R,
) -> impl IntoView
where
    B: Copy + Send + Sync + 'static,
    L: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<B, ChunkError>> + 'static,
    R: Fn(B) -> AnyView + Send + Sync + 'static,
{
    let render = std::sync::Arc::new(render);
    lazy(
        waiting,
        host,
        send_wrapper::SendWrapper::new(std::rc::Rc::new(move || -> Loading {
            let loading = load();
            let render = render.clone();
            Box::pin(async move {
                let builder = loading.await?;
                Ok(std::rc::Rc::new(move || render(builder)) as Render)
            })
        })),
    )
}

fn lazy(
    waiting: &'static str,
    host: StoredValue<Host>,
    load: send_wrapper::SendWrapper<std::rc::Rc<dyn Fn() -> Loading>>,
) -> impl IntoView {
    let phase = RwSignal::new_local(Phase::Loading);
    let start = move || {
        let mut loading = load();
        // A chunk already here answers at once: no "Loading…" in between
        // (a dialog opened a second time shows straight away).
        if let Some(done) = futures::FutureExt::now_or_never(&mut loading) {
            phase.set(done.map_or(Phase::Failed, Phase::Ready));
            return;
        }
        phase.set(Phase::Loading);
        leptos::task::spawn_local(async move {
            let next = loading.await.map_or(Phase::Failed, Phase::Ready);
            phase.try_set(next);
        });
    };
    start();
    move || match phase.get() {
        Phase::Loading => view! { <p role="status" class="ferry-muted">{waiting}</p> }.into_any(),
        Phase::Ready(render) => render(),
        Phase::Failed => {
            // Shown once per failed try (the phase changed): the host page
            // hears of each.
            host.try_with_value(|host| {
                host.emit_error(ferry_client::host::CHUNK_LOAD_FAILED_DETAIL)
            });
            let start = start.clone();
            view! {
                <div role="alert" class="ferry-alert">
                    <span>{ferry_client::host::CHUNK_LOAD_FAILED}</span>
                    <button type="button" class="ferry-link" on:click=move |_| start()>"Try again"</button>
                </div>
            }
            .into_any()
        }
    }
}
