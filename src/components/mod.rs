//! The components: they wire `ferry_client`'s state to the DOM and call the
//! hooks and `api`; they decide nothing a test would want to check without
//! a browser. `app` is the shell (settings, session, sign-in or the file
//! browser), `signin` the sign-in form and its rarer steps, `files` the
//! file browser, `modal` every dialog's frame and `conflict` the question
//! when a name is taken.

pub mod app;
pub mod conflict;
pub mod files;
pub mod modal;
pub mod signin;
