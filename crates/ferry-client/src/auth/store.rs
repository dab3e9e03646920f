//! Where a session's tokens are kept between page loads: sessionStorage by
//! default (gone with the tab), localStorage only when the embedder asks.

use super::TokenSet;

/// The key the tokens are stored under.
pub const STORAGE_KEY: &str = "ferry.tokens";

pub use ferry_protocol::config::TokenStorage;

/// A string store, so the rules here are tested without a browser.
pub trait KeyValue {
    /// The value under `key`.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`; failures (quota, private mode) are ignored,
    /// as the tokens stay in memory anyway.
    fn set(&self, key: &str, value: &str);
    /// Removes `key`.
    fn remove(&self, key: &str);
}

/// Reads stored tokens, dropping them when unreadable or expired at `now`
/// without a refresh token to renew them.
pub fn load(store: &impl KeyValue, now: i64) -> Option<TokenSet> {
    let text = store.get(STORAGE_KEY)?;
    let tokens: TokenSet = match serde_json::from_str(&text) {
        Ok(tokens) => tokens,
        Err(_) => {
            store.remove(STORAGE_KEY);
            return None;
        }
    };
    if !tokens.is_valid(now) && tokens.refresh_token.is_none() {
        store.remove(STORAGE_KEY);
        return None;
    }
    Some(tokens)
}

/// Stores `tokens`, or forgets them when `None` (sign-out).
pub fn save(store: &impl KeyValue, tokens: Option<&TokenSet>) {
    match tokens.and_then(|t| serde_json::to_string(t).ok()) {
        Some(text) => store.set(STORAGE_KEY, &text),
        None => store.remove(STORAGE_KEY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Debug, Default)]
    struct Map(RefCell<HashMap<String, String>>);

    impl KeyValue for Map {
        fn get(&self, key: &str) -> Option<String> {
            self.0.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &str) {
            self.0.borrow_mut().insert(key.into(), value.into());
        }
        fn remove(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
    }

    fn tokens(refresh: Option<&str>) -> TokenSet {
        TokenSet {
            id_token: "i".into(),
            access_token: "a".into(),
            refresh_token: refresh.map(Into::into),
            expires_at: 100,
            issued_at: None,
        }
    }

    #[test]
    fn tokens_round_trip_and_sign_out_forgets_them() {
        let store = Map::default();
        save(&store, Some(&tokens(Some("r"))));
        assert_eq!(load(&store, 50), Some(tokens(Some("r"))));
        // Expired, but renewable.
        assert_eq!(load(&store, 500), Some(tokens(Some("r"))));
        save(&store, None);
        assert_eq!(load(&store, 50), None);
    }

    #[test]
    fn expired_tokens_without_refresh_and_garbage_are_dropped() {
        let store = Map::default();
        save(&store, Some(&tokens(None)));
        assert_eq!(load(&store, 500), None);
        assert_eq!(store.get(STORAGE_KEY), None);
        store.set(STORAGE_KEY, "not json");
        assert_eq!(load(&store, 0), None);
        assert_eq!(store.get(STORAGE_KEY), None);
    }
}
