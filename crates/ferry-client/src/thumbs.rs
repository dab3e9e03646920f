//! The thumbnails the tiles show: which files' links to ask the API for
//! (`POST /api/thumbnails`), and the links it answered, until they expire.
//!
//! A tile asks only for a file whose thumbnails the index says are made —
//! from the listing, or live from a `ThumbnailCreated` event — so a folder
//! of documents costs no request, and a photo uploaded a moment ago is
//! asked for the moment its thumbnail exists. Links come presigned for an
//! hour, the same link for the same thumbnail within it, so the browser's
//! cache serves a tile scrolled back into view.

use ferry_protocol::api::{
    MAX_THUMBNAIL_IDS, ThumbnailLink, ThumbnailLinkState, ThumbnailReadiness,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A link is asked for again this long before it expires, so a tile
/// never shows one that stops working.
const RENEW_BEFORE_MS: i64 = 60_000;

/// What is known of one file's thumbnail link.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// A presigned GET, and when it stops working (Unix ms).
    Url(String, i64),
    /// The API said there is none to show (failed, not an image, gone).
    Unavailable,
}

/// The links of one browser's tiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThumbLinks {
    links: HashMap<Uuid, Link>,
    asking: HashSet<Uuid>,
}

impl ThumbLinks {
    /// The files among `shown` (id and what the index says of its
    /// thumbnails) whose link to ask for now: made, with no link that
    /// works for another minute, and not asked for already; at most one
    /// request's worth.
    pub fn wanted(&self, shown: &[(Uuid, Option<ThumbnailReadiness>)], now_ms: i64) -> Vec<Uuid> {
        shown
            .iter()
            .filter(|(_, ready)| *ready == Some(ThumbnailReadiness::Ready))
            .map(|(id, _)| *id)
            .filter(|id| !self.asking.contains(id))
            .filter(|id| match self.links.get(id) {
                Some(Link::Url(_, expires)) => *expires - RENEW_BEFORE_MS <= now_ms,
                Some(Link::Unavailable) => false,
                None => true,
            })
            .take(MAX_THUMBNAIL_IDS)
            .collect()
    }

    /// `ids` were asked for.
    pub fn asking(&mut self, ids: &[Uuid]) {
        self.asking.extend(ids.iter().copied());
    }

    /// The API's answer for `asked`: links kept; a file still pending is
    /// asked again when its `ThumbnailCreated` arrives (its readiness
    /// changes then).
    pub fn answered(&mut self, asked: &[Uuid], links: &[ThumbnailLink]) {
        for id in asked {
            self.asking.remove(id);
        }
        for link in links {
            match (link.state, &link.url, link.expires_at) {
                (ThumbnailLinkState::Ready, Some(url), Some(expires)) => {
                    self.links
                        .insert(link.file_id, Link::Url(url.clone(), expires.unix_millis()));
                }
                (ThumbnailLinkState::Pending, _, _) => {
                    self.links.remove(&link.file_id);
                }
                _ => {
                    self.links.insert(link.file_id, Link::Unavailable);
                }
            }
        }
    }

    /// The request for `asked` failed: they may be asked for again.
    pub fn failed(&mut self, asked: &[Uuid]) {
        for id in asked {
            self.asking.remove(id);
        }
    }

    /// The link to show for `file_id`, while it works.
    pub fn url(&self, file_id: Uuid, now_ms: i64) -> Option<&str> {
        match self.links.get(&file_id) {
            Some(Link::Url(url, expires)) if *expires > now_ms => Some(url),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::envelope::Timestamp;

    fn link(id: Uuid, state: ThumbnailLinkState, expires_ms: i64) -> ThumbnailLink {
        ThumbnailLink {
            file_id: id,
            state,
            url: (state == ThumbnailLinkState::Ready).then(|| format!("https://store/{id}")),
            expires_at: (state == ThumbnailLinkState::Ready)
                .then(|| Timestamp::from_unix_millis(expires_ms).unwrap()),
            width: None,
            height: None,
            code: None,
        }
    }

    #[test]
    fn only_made_thumbnails_are_asked_for_once_and_then_shown_until_they_expire() {
        let (photo, doc, fresh) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let shown = [
            (photo, Some(ThumbnailReadiness::Ready)),
            (doc, None),
            (fresh, Some(ThumbnailReadiness::Failed)),
        ];
        let mut links = ThumbLinks::default();
        let wanted = links.wanted(&shown, 0);
        assert_eq!(wanted, [photo], "documents and failed images cost nothing");
        links.asking(&wanted);
        assert!(
            links.wanted(&shown, 0).is_empty(),
            "asked once, while the answer comes"
        );
        links.answered(
            &wanted,
            &[link(photo, ThumbnailLinkState::Ready, 3_600_000)],
        );
        assert_eq!(
            links.url(photo, 1_000),
            Some(format!("https://store/{photo}").as_str())
        );
        assert!(links.wanted(&shown, 1_000).is_empty());
        // A minute before it expires it is asked for again; once expired it
        // isn't shown.
        assert_eq!(links.wanted(&shown, 3_550_000), [photo]);
        assert_eq!(links.url(photo, 3_600_000), None);
    }

    #[test]
    fn a_pending_or_failed_request_is_asked_again_and_an_unavailable_one_never() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let ready = Some(ThumbnailReadiness::Ready);
        let shown = [(a, ready), (b, ready), (c, ready)];
        let mut links = ThumbLinks::default();
        links.asking(&[a, b, c]);
        links.answered(
            &[a, b],
            &[
                link(a, ThumbnailLinkState::Pending, 0),
                link(b, ThumbnailLinkState::NotFound, 0),
            ],
        );
        links.failed(&[c]);
        assert_eq!(links.wanted(&shown, 0), [a, c]);
        assert_eq!(links.url(b, 0), None);
    }

    #[test]
    fn one_request_asks_for_at_most_the_apis_limit() {
        let shown: Vec<(Uuid, Option<ThumbnailReadiness>)> = (0..250u128)
            .map(|i| (Uuid::from_u128(i), Some(ThumbnailReadiness::Ready)))
            .collect();
        assert_eq!(
            ThumbLinks::default().wanted(&shown, 0).len(),
            MAX_THUMBNAIL_IDS
        );
    }
}
