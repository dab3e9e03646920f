//! The components: they wire `ferry_client`'s state to the DOM and call the
//! hooks and `api`; they decide nothing a test would want to check without
//! a browser. `app` is the shell (settings, session, sign-in or the file
//! browser), `signin` the sign-in form and its rarer steps, `files` the
//! file browser.

pub mod app;
pub mod files;
pub mod modal;
pub mod signin;
