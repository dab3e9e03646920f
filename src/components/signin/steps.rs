//! The rarer sign-in steps, a chunk of their own: choosing a new password
//! after a temporary one, an authenticator code, setting up an
//! authenticator app (with its QR code), and resetting a forgotten
//! password. Most sign-ins never load this.

use super::{SignInState, Signed, Stage, text_input};
use crate::chunks;
use ferry_client::auth::Step;
use leptos::prelude::*;

chunks::split_point! {
    sign_in_steps =>
    /// Loads the sign-in steps: the chunk's entry, with the view of the
    /// step `state` is at (anything but the first form).
    pub fn sign_in_step() -> fn(SignInState) -> AnyView {
        step_view
    }
}

fn step_view(state: SignInState) -> AnyView {
    let busy = state.busy;
    let set_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Stage::Challenge(Step::NewPasswordRequired {
            session: id,
            username: user,
        }) = state.stage.get_untracked()
        else {
            return;
        };
        let client = state.session.client();
        let pass = state.new_password.get_untracked();
        state.run(Box::pin(async move {
            Ok(Some(Signed::from(
                client.set_new_password(&id, &user, &pass).await?,
            )))
        }));
    };
    let verify = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = state.session.client();
        let typed = state.code.get_untracked();
        state.code.set(String::new());
        match state.stage.get_untracked() {
            Stage::Challenge(Step::MfaCode {
                session: id,
                username: user,
            }) => state.run(Box::pin(async move {
                Ok(Some(Signed::from(
                    client.verify_mfa_code(&id, &user, &typed).await?,
                )))
            })),
            Stage::Challenge(Step::MfaSetup {
                session: id,
                username: user,
                ..
            }) => state.run(Box::pin(async move {
                Ok(Some(Signed::from(
                    client.finish_mfa_setup(&id, &user, &typed).await?,
                )))
            })),
            _ => {}
        }
    };
    let send_code = move |_| {
        let client = state.session.client();
        let user = state.username.get_untracked();
        let notice = state.notice;
        state.run(Box::pin(async move {
            client.forgot_password(user.trim()).await?;
            notice.try_set(Some("If that account exists, a code is on its way.".into()));
            Ok(None)
        }));
    };
    let reset = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = state.session.client();
        let (user, typed, pass) = (
            state.username.get_untracked(),
            state.code.get_untracked(),
            state.new_password.get_untracked(),
        );
        let notice = state.notice;
        state.run(Box::pin(async move {
            client
                .confirm_forgot_password(user.trim(), &typed, &pass)
                .await?;
            notice.try_set(Some(
                "Password changed. Sign in with your new password.".into(),
            ));
            Ok(Some(Signed::Stage(Stage::Form)))
        }));
    };
    let code_form = move || {
        view! {
            <form class="ferry-form" on:submit=verify>
                {text_input("ferry-code", "Authentication code", "text", state.code, "one-time-code")}
                <button type="submit" class="ferry-button" disabled=move || busy.get()>"Verify"</button>
            </form>
        }
    };
    match state.stage.get_untracked() {
        Stage::Form | Stage::Challenge(Step::SignedIn(_)) => ().into_any(),
        Stage::Challenge(Step::NewPasswordRequired { .. }) => view! {
            <h2 id="ferry-signin-title">"Choose a new password"</h2>
            <form class="ferry-form" on:submit=set_password>
                {text_input("ferry-new-password", "New password", "password", state.new_password, "new-password")}
                <button type="submit" class="ferry-button" disabled=move || busy.get()>"Set password"</button>
            </form>
        }
        .into_any(),
        Stage::Challenge(Step::MfaCode { .. }) => view! {
            <h2 id="ferry-signin-title">"Enter your authentication code"</h2>
            {code_form()}
        }
        .into_any(),
        Stage::Challenge(Step::MfaSetup {
            secret,
            username: user,
            ..
        }) => view! {
            <h2 id="ferry-signin-title">"Set up an authenticator app"</h2>
            <p>"Scan this code with your authenticator app, or type the key below, then enter the code it shows."</p>
            {ferry_client::qr::encode(&Step::otpauth_uri(&user, &secret)).map(|qr| {
                let side = qr.size + 8;
                view! {
                    <svg class="ferry-qr" role="img" aria-label="QR code for your authenticator app"
                        viewBox=format!("0 0 {side} {side}") width="176" height="176">
                        <rect width=side.to_string() height=side.to_string() fill="#fff" />
                        <path d=qr.path transform="translate(4 4)" fill="#000" />
                    </svg>
                }
            })}
            <p><code class="ferry-secret" aria-label="Authenticator key">{secret}</code></p>
            {code_form()}
        }
        .into_any(),
        Stage::Forgot => view! {
            <h2 id="ferry-signin-title">"Reset your password"</h2>
            <form class="ferry-form" on:submit=reset>
                {text_input("ferry-username", "Username", "text", state.username, "username")}
                <button type="button" class="ferry-button" on:click=send_code>"Send code"</button>
                {text_input("ferry-reset-code", "Code", "text", state.code, "one-time-code")}
                {text_input("ferry-new-password", "New password", "password", state.new_password, "new-password")}
                <button type="submit" class="ferry-button" disabled=move || busy.get()>"Set password"</button>
                <button type="button" class="ferry-link" on:click=move |_| {
                    state.error.set(None);
                    state.stage.set(Stage::Form);
                }>"Back to sign in"</button>
            </form>
        }
        .into_any(),
    }
}
