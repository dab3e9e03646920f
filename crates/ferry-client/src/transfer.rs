//! One file's multipart upload, planned: which parts to presign, which to
//! send, when to try a part again, when to complete — with no DOM and no
//! network, so every rule is tested natively. The driver (in
//! `browser/uploads.rs`) tells it what happened (a checksum computed, URLs
//! presigned, a part stored or refused, the user pausing) and does what
//! [`Transfer::next`] says.
//!
//! - Parts go out `parts_in_flight` at a time, lowest number first.
//! - With checksums on, a part is presigned only once its SHA-256 is known,
//!   so the store checks it (`x-amz-checksum-sha256` is signed). The whole
//!   file's SHA-256 is the store's to compute when it joins the parts it
//!   checked: hashing the whole file here would bound the upload's speed.
//! - URLs are presigned in batches ahead of need, and again when one has
//!   expired or is about to.
//! - A dropped part is tried again after an exponential backoff with full
//!   jitter; a refused checksum (the bytes changed on the way) too.
//! - Paused, nothing new starts; parts interrupted by the pause go back to
//!   waiting without counting as a failure.

use ferry_protocol::api::{PartUpload, PartWanted, UploadedPartView};
use ferry_protocol::messages::UploadedPart;

/// How many times one part is tried before the upload fails.
pub const MAX_TRIES: u32 = 8;
/// The first retry's longest wait, in milliseconds; it doubles each time.
const BACKOFF_BASE_MS: f64 = 500.0;
/// No wait is longer than this.
const BACKOFF_CAP_MS: f64 = 30_000.0;
/// A presigned URL with less life than this (or a quarter of its life, if
/// shorter) is presigned again before use.
const EXPIRY_MARGIN_MS: i64 = 60_000;
/// The signed header that carries a part's checksum.
const CHECKSUM_HEADER: &str = "x-amz-checksum-sha256";
/// The most parts asked for in one presign request.
const PRESIGN_BATCH: usize = 100;

/// Presign requests one upload has on their way at once.
const PRESIGNS_IN_FLIGHT: usize = 2;

/// How long to wait before try number `tries + 1` of a part: a random
/// share (`jitter`, 0 to 1) of an exponentially growing cap ("full jitter").
pub fn backoff_ms(tries: u32, jitter: f64) -> f64 {
    let cap =
        (BACKOFF_BASE_MS * 2f64.powi(tries.saturating_sub(1).min(16) as i32)).min(BACKOFF_CAP_MS);
    cap * jitter.clamp(0.0, 1.0)
}

/// Why a part's PUT failed, as far as the plan cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartFailure {
    /// No answer, a dropped connection or a server error: try again later.
    Dropped,
    /// The presigned URL expired: presign it again and send at once.
    Expired,
    /// The store computed another checksum than the one signed: the bytes
    /// were damaged on the way. Try again later.
    BadDigest,
    /// Refused for good (wrong signature, too large, …), in words.
    Refused(String),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Ask the API to presign these parts (with their checksums).
    Presign(Vec<PartWanted>),
    /// Send this part's bytes with its presigned request.
    Send(PartUpload),
    /// Every part is stored: send `CompleteUpload` with these parts.
    Complete {
        /// The parts, in order.
        parts: Vec<UploadedPart>,
    },
    /// Nothing to do until this time (ms since the epoch), unless something
    /// happens first.
    WaitUntil(f64),
    /// The upload can't finish, for this reason.
    Fail(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not stored yet.
    Waiting,
    /// On its way.
    Sending,
    /// Stored, with the ETag the store gave.
    Done(String),
}

#[derive(Debug, Clone)]
struct Part {
    size: u64,
    state: State,
    checksum: Option<String>,
    request: Option<PartUpload>,
    /// When `request` stops being used (ms since the epoch).
    fresh_until: i64,
    tries: u32,
    not_before: f64,
    sent: u64,
    /// In a presign request on its way.
    asked: bool,
}

/// One file's multipart upload.
#[derive(Debug, Clone)]
pub struct Transfer {
    parts: Vec<Part>,
    part_size: u64,
    checksums: bool,
    parts_in_flight: usize,
    /// Presign requests on their way (at most [`PRESIGNS_IN_FLIGHT`]).
    presigning: usize,
    /// After a failed presign or completion: not again before this time.
    retry_at: f64,
    retries: u32,
    paused: bool,
    completing: bool,
    failed: Option<String>,
}

impl Transfer {
    /// A plan for `size` bytes in parts of `part_size`; `checksums` turns
    /// the per-part SHA-256 on.
    pub fn new(size: u64, part_size: u64, checksums: bool, parts_in_flight: usize) -> Self {
        let part_size = part_size.max(1);
        let count = size.div_ceil(part_size).max(1);
        let parts = (0..count)
            .map(|i| Part {
                size: (size - (i * part_size).min(size)).min(part_size),
                state: State::Waiting,
                checksum: None,
                request: None,
                fresh_until: 0,
                tries: 0,
                not_before: 0.0,
                sent: 0,
                asked: false,
            })
            .collect();
        Self {
            parts,
            part_size,
            checksums,
            parts_in_flight: parts_in_flight.max(1),
            presigning: 0,
            retry_at: 0.0,
            retries: 0,
            paused: false,
            completing: false,
            failed: None,
        }
    }

    /// How many parts.
    pub fn part_count(&self) -> u32 {
        self.parts.len() as u32
    }

    /// The byte range of part `number` (1-based) in the file.
    pub fn range(&self, number: u32) -> (u64, u64) {
        let start = u64::from(number.saturating_sub(1)) * self.part_size;
        (start, start + self.parts[number as usize - 1].size)
    }

    fn part(&mut self, number: u32) -> Option<&mut Part> {
        self.parts.get_mut((number as usize).checked_sub(1)?)
    }

    /// Presigned requests the server gave at `now` (with `CreateFile` or
    /// later). A request signed without the checksum a part now has is not
    /// used.
    pub fn presigned(&mut self, parts: Vec<PartUpload>, now: f64) {
        let checksums = self.checksums;
        for upload in parts {
            let signed = upload.request.headers.get(CHECKSUM_HEADER).cloned();
            if let Some(part) = self.part(upload.part_number)
                && part.state == State::Waiting
                && (!checksums || (signed.is_some() && signed == part.checksum))
            {
                // Used only while a quarter of its life (at most a minute)
                // is left, so a short-lived link isn't dropped at once.
                let life = upload.request.expires_at.unix_millis() - now as i64;
                // A link already expired by this clock (skewed) is still
                // tried: the store's refusal then counts as a try.
                part.fresh_until = (upload.request.expires_at.unix_millis()
                    - (life / 4).clamp(0, EXPIRY_MARGIN_MS))
                .max(now as i64 + 1_000);
                part.request = Some(upload);
            }
        }
    }

    /// The presign request for parts `asked` ([`Action::Presign`]) ended,
    /// answered or not: they may be asked for again. Before
    /// [`Self::presigned`] with its answer, or [`Self::presign_failed`].
    pub fn presign_answered(&mut self, asked: &[u32]) {
        self.presigning = self.presigning.saturating_sub(1);
        for &number in asked {
            if let Some(part) = self.part(number) {
                part.asked = false;
            }
        }
    }

    /// The presign request failed at `now` (the API unreachable): asked
    /// again after a backoff.
    pub fn presign_failed(&mut self, now: f64, jitter: f64) {
        self.retries += 1;
        self.retry_at = now + backoff_ms(self.retries, jitter);
    }

    /// Part `number`'s SHA-256, base64, from the hasher.
    pub fn hashed(&mut self, number: u32, checksum: String) {
        if let Some(part) = self.part(number) {
            part.checksum = Some(checksum);
        }
    }

    /// The last part the hasher may read now: `ahead` parts from the
    /// first one waiting for a slot (not on its way, not stored). The
    /// hasher keeps that far ahead of the slots, so a part is hashed and
    /// presigned before a slot frees for it, and no further: it doesn't
    /// read the whole file while the uploads are paused, or before a
    /// cancel. A slow part on its way doesn't hold it back (a hashed part
    /// costs the page only its checksum).
    pub fn hash_until(&self, ahead: u32) -> u32 {
        let first_waiting = self
            .parts
            .iter()
            .position(|p| p.state == State::Waiting)
            .unwrap_or(self.parts.len());
        (first_waiting as u32 + ahead.max(1)).min(self.parts.len() as u32)
    }

    /// Part `number`'s checksum, once known.
    pub fn checksum(&self, number: u32) -> Option<String> {
        self.parts
            .get((number as usize).checked_sub(1)?)?
            .checksum
            .clone()
    }

    /// Bytes of part `number` sent so far on its current try.
    pub fn progress(&mut self, number: u32, sent: u64) {
        if let Some(part) = self.part(number)
            && part.state == State::Sending
        {
            part.sent = sent.min(part.size);
        }
    }

    /// Part `number` is stored; the store answered with `etag`.
    pub fn stored(&mut self, number: u32, etag: String) {
        if let Some(part) = self.part(number) {
            part.state = State::Done(etag);
            part.sent = part.size;
            part.request = None;
        }
    }

    /// Part `number`'s PUT failed at `now` (ms); `jitter` (0 to 1) spreads
    /// the retries of many clients.
    pub fn part_failed(&mut self, number: u32, failure: PartFailure, now: f64, jitter: f64) {
        let Some(part) = self.part(number) else {
            return;
        };
        if part.state != State::Sending {
            return;
        }
        part.state = State::Waiting;
        part.sent = 0;
        if let PartFailure::Refused(reason) = failure {
            self.failed = Some(reason);
            return;
        }
        part.tries += 1;
        if part.tries >= MAX_TRIES {
            self.failed = Some(match failure {
                PartFailure::BadDigest => {
                    format!("part {number} kept arriving damaged; the file may be changing")
                }
                PartFailure::Expired => format!("part {number}'s upload link kept being refused"),
                _ => format!("part {number} failed {MAX_TRIES} times"),
            });
            return;
        }
        if failure == PartFailure::Expired {
            // Presigned again and sent at once.
            part.request = None;
        } else {
            part.not_before = now + backoff_ms(part.tries, jitter);
        }
    }

    /// Part `number` was stopped by a pause or by going offline: it waits
    /// again, without counting as a failed try.
    pub fn interrupted(&mut self, number: u32) {
        if let Some(part) = self.part(number)
            && part.state == State::Sending
        {
            part.state = State::Waiting;
            part.sent = 0;
        }
    }

    /// Parts the store already has (from listing them when resuming): they
    /// count as stored when their size matches and, with checksums on, their
    /// checksum matches this file's.
    pub fn already_stored(&mut self, stored: &[UploadedPartView]) -> u32 {
        let checksums = self.checksums;
        let mut kept = 0;
        for view in stored {
            let Some(part) = self.part(view.part_number) else {
                continue;
            };
            let same = view.size == part.size
                && (!checksums
                    || (part.checksum.is_some() && part.checksum == view.checksum_sha256));
            if same && part.state == State::Waiting {
                part.state = State::Done(view.etag.clone());
                part.sent = part.size;
                part.request = None;
                kept += 1;
            }
        }
        kept
    }

    /// Pauses (nothing new starts) or resumes.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// `CompleteUpload` couldn't be sent at `now` (the API unreachable):
    /// sent again after a backoff.
    pub fn complete_failed(&mut self, now: f64, jitter: f64) {
        self.completing = false;
        self.retries += 1;
        self.retry_at = now + backoff_ms(self.retries, jitter);
    }

    /// Bytes stored or on their way.
    pub fn sent(&self) -> u64 {
        self.parts.iter().map(|p| p.sent).sum()
    }

    /// The parts in flight now.
    pub fn sending(&self) -> Vec<u32> {
        (1..=self.part_count())
            .filter(|&n| self.parts[n as usize - 1].state == State::Sending)
            .collect()
    }

    /// How many parts are stored.
    pub fn stored_count(&self) -> u32 {
        self.parts
            .iter()
            .filter(|p| matches!(p.state, State::Done(_)))
            .count() as u32
    }

    /// What to do now (`now` in ms since the epoch). Parts returned in
    /// `Send` count as in flight from here on.
    pub fn next(&mut self, now: f64) -> Vec<Action> {
        if let Some(reason) = &self.failed {
            return vec![Action::Fail(reason.clone())];
        }
        if self.completing {
            return Vec::new();
        }
        let retry_wait = (self.retry_at > now).then_some(self.retry_at);
        if self.parts.iter().all(|p| matches!(p.state, State::Done(_))) {
            if let Some(at) = retry_wait {
                return vec![Action::WaitUntil(at)];
            }
            self.completing = true;
            let parts = self
                .parts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| match &p.state {
                    State::Done(etag) => Some(UploadedPart {
                        part_number: i as u32 + 1,
                        e_tag: etag.clone(),
                        checksum_sha256: p.checksum.clone(),
                    }),
                    _ => None,
                })
                .collect();
            return vec![Action::Complete { parts }];
        }
        if self.paused {
            return Vec::new();
        }
        let now_ms = now as i64;
        // Requests about to expire are dropped and presigned again.
        for part in &mut self.parts {
            if part.state == State::Waiting && part.request.is_some() && now_ms >= part.fresh_until
            {
                part.request = None;
            }
        }
        let mut actions = Vec::new();
        let mut busy = self.sending().len();
        let mut wake: Option<f64> = None;
        for (i, part) in self.parts.iter_mut().enumerate() {
            if busy >= self.parts_in_flight {
                break;
            }
            if part.state != State::Waiting || part.request.is_none() {
                continue;
            }
            if part.not_before > now {
                wake = Some(wake.map_or(part.not_before, |w: f64| w.min(part.not_before)));
                continue;
            }
            let Some(upload) = part.request.clone() else {
                continue;
            };
            debug_assert_eq!(upload.part_number, i as u32 + 1);
            part.state = State::Sending;
            part.sent = 0;
            busy += 1;
            actions.push(Action::Send(upload));
        }
        // Presign ahead: enough waiting requests to fill the slots twice.
        // A part hashed while a presign request is on its way goes in a
        // second one, so its slot doesn't wait for two round trips.
        if let Some(at) = retry_wait
            && self.presigning < PRESIGNS_IN_FLIGHT
        {
            wake = Some(wake.map_or(at, |w: f64| w.min(at)));
        } else if self.presigning < PRESIGNS_IN_FLIGHT {
            let ready = self
                .parts
                .iter()
                .filter(|p| p.state == State::Waiting && p.request.is_some())
                .count();
            if ready < self.parts_in_flight * 2 {
                let checksums = self.checksums;
                let wanted: Vec<PartWanted> = self
                    .parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.state == State::Waiting && p.request.is_none())
                    // In order: a part without its checksum yet stops the batch.
                    .take_while(|(_, p)| !checksums || p.checksum.is_some())
                    .filter(|(_, p)| !p.asked)
                    .take(PRESIGN_BATCH)
                    .map(|(i, p)| PartWanted {
                        part_number: i as u32 + 1,
                        checksum_sha256: p.checksum.clone(),
                    })
                    .collect();
                if !wanted.is_empty() {
                    self.presigning += 1;
                    for w in &wanted {
                        if let Some(part) = self.part(w.part_number) {
                            part.asked = true;
                        }
                    }
                    actions.push(Action::Presign(wanted));
                }
            }
        }
        if actions.is_empty()
            && let Some(at) = wake
        {
            actions.push(Action::WaitUntil(at));
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_protocol::api::PresignedRequest;
    use ferry_protocol::envelope::Timestamp;

    const MIB: u64 = 1024 * 1024;
    const NOW: f64 = 1_800_000_000_000.0;

    fn upload(number: u32, size: u64, checksum: Option<&str>, expires_ms: i64) -> PartUpload {
        let mut headers = std::collections::BTreeMap::new();
        if let Some(sum) = checksum {
            headers.insert("x-amz-checksum-sha256".to_owned(), sum.to_owned());
        }
        PartUpload {
            part_number: number,
            size,
            request: PresignedRequest {
                method: "PUT".into(),
                url: format!("http://store/f?partNumber={number}"),
                headers,
                expires_at: Timestamp::from_unix_millis(expires_ms).expect("a time"),
            },
        }
    }

    /// Answers every presign request of `actions` with URLs valid for an hour.
    fn presign_all(transfer: &mut Transfer, actions: &[Action]) {
        for action in actions {
            if let Action::Presign(wanted) = action {
                let answer = wanted
                    .iter()
                    .map(|w| {
                        let (a, b) = transfer.range(w.part_number);
                        upload(
                            w.part_number,
                            b - a,
                            w.checksum_sha256.as_deref(),
                            NOW as i64 + 3_600_000,
                        )
                    })
                    .collect();
                let asked: Vec<u32> = wanted.iter().map(|w| w.part_number).collect();
                transfer.presign_answered(&asked);
                transfer.presigned(answer, NOW);
            }
        }
    }

    fn sends(actions: &[Action]) -> Vec<u32> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(p) => Some(p.part_number),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_hasher_stays_a_few_parts_ahead_of_the_slots() {
        let mut t = Transfer::new(50 * MIB, 5 * MIB, true, 2);
        assert_eq!(t.hash_until(4), 4);
        for n in 1..=3 {
            t.hashed(n, format!("c{n}"));
        }
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        assert_eq!(sends(&t.next(NOW)), vec![1, 2]);
        // Parts 1 and 2 on their way: part 3 is the next a slot takes.
        assert_eq!(t.hash_until(4), 6);
        // Part 2 stored while part 1 is slow: the hasher goes on as far.
        t.stored(2, "e2".into());
        assert_eq!(t.hash_until(4), 6);
        assert_eq!(sends(&t.next(NOW)), vec![3]);
        assert_eq!(t.hash_until(4), 7);
        // A part that failed waits again: the hasher is held back to it.
        t.part_failed(1, PartFailure::Dropped, NOW, 0.5);
        assert_eq!(t.hash_until(4), 4);
        // Never past the last part.
        assert_eq!(t.hash_until(40), 10);
    }

    #[test]
    fn parts_have_the_right_sizes_and_ranges() {
        let t = Transfer::new(12 * MIB + 1, 5 * MIB, false, 4);
        assert_eq!(t.part_count(), 3);
        assert_eq!(t.range(1), (0, 5 * MIB));
        assert_eq!(t.range(3), (10 * MIB, 12 * MIB + 1));
    }

    #[test]
    fn parts_go_out_in_parallel_within_the_limit_then_complete() {
        let mut t = Transfer::new(50 * MIB, 5 * MIB, false, 3);
        let first = t.next(NOW);
        // Nothing presigned yet: one batch asked for, every part in it.
        assert!(matches!(&first[..], [Action::Presign(w)] if w.len() == 10));
        presign_all(&mut t, &first);
        let actions = t.next(NOW);
        assert_eq!(sends(&actions), vec![1, 2, 3]);
        // The slots are full: nothing more until a part ends.
        assert_eq!(sends(&t.next(NOW)), Vec::<u32>::new());
        t.stored(2, "\"e2\"".into());
        assert_eq!(sends(&t.next(NOW)), vec![4]);
        for n in [1, 3, 4] {
            t.stored(n, format!("\"e{n}\""));
        }
        let mut done = t.next(NOW);
        while !sends(&done).is_empty() {
            for n in sends(&done) {
                t.stored(n, format!("\"e{n}\""));
            }
            done = t.next(NOW);
        }
        let [Action::Complete { parts }] = &done[..] else {
            panic!("expected Complete, got {done:?}")
        };
        assert_eq!(parts.len(), 10);
        assert_eq!(parts[1].e_tag, "\"e2\"");
        assert!(
            parts
                .windows(2)
                .all(|w| w[0].part_number + 1 == w[1].part_number)
        );
        assert!(parts.iter().all(|p| p.checksum_sha256.is_none()));
        // Complete is asked once.
        assert!(t.next(NOW).is_empty());
        assert_eq!(t.sent(), 50 * MIB);
    }

    #[test]
    fn with_checksums_parts_are_presigned_with_them_in_order_and_complete_with_them() {
        let mut t = Transfer::new(20 * MIB, 5 * MIB, true, 2);
        // No checksum yet: nothing to presign or send.
        assert!(t.next(NOW).is_empty());
        t.hashed(1, "c1".into());
        t.hashed(3, "c3".into());
        let actions = t.next(NOW);
        // Part 2's checksum is missing: the batch stops before it.
        let [Action::Presign(wanted)] = &actions[..] else {
            panic!("{actions:?}")
        };
        assert_eq!(
            wanted,
            &vec![PartWanted {
                part_number: 1,
                checksum_sha256: Some("c1".into())
            }]
        );
        presign_all(&mut t, &actions);
        t.hashed(2, "c2".into());
        t.hashed(4, "c4".into());
        let actions = t.next(NOW);
        assert_eq!(sends(&actions), vec![1]);
        presign_all(&mut t, &actions);
        assert_eq!(sends(&t.next(NOW)), vec![2]);
        for n in 1..=2 {
            t.stored(n, format!("e{n}"));
        }
        assert_eq!(sends(&t.next(NOW)), vec![3, 4]);
        for n in 3..=4 {
            t.stored(n, format!("e{n}"));
        }
        let done = t.next(NOW);
        let [Action::Complete { parts }] = &done[..] else {
            panic!("{done:?}")
        };
        let sums: Vec<_> = parts.iter().map(|p| p.checksum_sha256.clone()).collect();
        assert_eq!(sums, ["c1", "c2", "c3", "c4"].map(|c| Some(c.to_owned())));
    }

    #[test]
    fn a_dropped_part_waits_a_growing_jittered_time_then_goes_again() {
        let mut t = Transfer::new(10 * MIB, 5 * MIB, false, 1);
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        assert_eq!(sends(&t.next(NOW)), vec![1]);
        t.progress(1, MIB);
        assert_eq!(t.sent(), MIB);
        t.part_failed(1, PartFailure::Dropped, NOW, 1.0);
        assert_eq!(t.sent(), 0, "a failed try's bytes don't count");
        // Part 1 waits half a second; part 2 goes meanwhile.
        assert_eq!(sends(&t.next(NOW)), vec![2]);
        t.stored(2, "e2".into());
        assert_eq!(t.next(NOW + 100.0), vec![Action::WaitUntil(NOW + 500.0)]);
        assert_eq!(sends(&t.next(NOW + 500.0)), vec![1]);
        t.part_failed(1, PartFailure::Dropped, NOW + 500.0, 1.0);
        assert_eq!(
            t.next(NOW + 600.0),
            vec![Action::WaitUntil(NOW + 500.0 + 1000.0)]
        );
        // The jitter shortens the wait.
        assert_eq!(backoff_ms(3, 0.5), 1000.0);
        assert_eq!(backoff_ms(1, 0.0), 0.0);
        assert_eq!(backoff_ms(30, 1.0), BACKOFF_CAP_MS);
    }

    #[test]
    fn a_part_that_keeps_failing_fails_the_upload() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        let mut now = NOW;
        for _ in 0..MAX_TRIES {
            let actions = t.next(now);
            assert_eq!(sends(&actions), vec![1], "{actions:?}");
            t.part_failed(1, PartFailure::BadDigest, now, 0.0);
        }
        now += 1.0;
        let actions = t.next(now);
        assert!(
            matches!(&actions[..], [Action::Fail(r)] if r.contains("damaged")),
            "{actions:?}"
        );
    }

    #[test]
    fn an_expired_url_is_presigned_again_and_sent_at_once() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        assert_eq!(sends(&t.next(NOW)), vec![1]);
        t.part_failed(1, PartFailure::Expired, NOW, 1.0);
        let actions = t.next(NOW);
        assert!(matches!(&actions[..], [Action::Presign(w)] if w[0].part_number == 1));
        presign_all(&mut t, &actions);
        assert_eq!(
            sends(&t.next(NOW)),
            vec![1],
            "no backoff for an expired URL"
        );
    }

    #[test]
    fn with_checksums_a_request_signed_without_the_checksum_is_not_used() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, true, 1);
        t.presigned(vec![upload(1, 5 * MIB, None, NOW as i64 + 3_600_000)], NOW);
        t.hashed(1, "c1".into());
        let actions = t.next(NOW);
        assert!(
            matches!(&actions[..], [Action::Presign(w)] if w[0].checksum_sha256.as_deref() == Some("c1"))
        );
    }

    #[test]
    fn a_part_hashed_while_a_presign_is_on_its_way_goes_in_a_second_one() {
        let mut t = Transfer::new(20 * MIB, 5 * MIB, true, 2);
        t.hashed(1, "c1".into());
        let first = t.next(NOW);
        assert!(matches!(&first[..], [Action::Presign(w)] if w.len() == 1));
        // Part 2 is hashed before that answer: asked for at once.
        t.hashed(2, "c2".into());
        let second = t.next(NOW);
        assert!(
            matches!(&second[..], [Action::Presign(w)] if w.len() == 1 && w[0].part_number == 2)
        );
        // Two on their way: part 3 waits for one of them.
        t.hashed(3, "c3".into());
        assert!(t.next(NOW).is_empty());
        presign_all(&mut t, &second);
        let third = t.next(NOW);
        assert!(
            matches!(&third[..], [Action::Send(p), Action::Presign(w)]
                if p.part_number == 2 && w.len() == 1 && w[0].part_number == 3),
            "{third:?}"
        );
        // An answer that came back without a part: it is asked for again.
        t.presign_answered(&[1]);
        t.presigned(Vec::new(), NOW);
        let again = t.next(NOW);
        assert!(
            matches!(&again[..], [Action::Presign(w)] if w[0].part_number == 1),
            "{again:?}"
        );
    }

    #[test]
    fn a_failed_presign_or_completion_is_asked_again_after_a_wait() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        assert!(matches!(&t.next(NOW)[..], [Action::Presign(_)]));
        assert!(t.next(NOW).is_empty(), "a part is asked for once at a time");
        t.presign_answered(&[1]);
        t.presign_failed(NOW, 1.0);
        assert_eq!(t.next(NOW + 1.0), vec![Action::WaitUntil(NOW + 500.0)]);
        let again = t.next(NOW + 500.0);
        assert!(matches!(&again[..], [Action::Presign(_)]));
        presign_all(&mut t, &again);
        assert_eq!(sends(&t.next(NOW + 500.0)), vec![1]);
        t.stored(1, "e1".into());
        assert!(matches!(
            &t.next(NOW + 500.0)[..],
            [Action::Complete { .. }]
        ));
        t.complete_failed(NOW + 500.0, 1.0);
        assert_eq!(
            t.next(NOW + 600.0),
            vec![Action::WaitUntil(NOW + 500.0 + 1000.0)]
        );
        assert!(matches!(
            &t.next(NOW + 1500.0)[..],
            [Action::Complete { .. }]
        ));
    }

    #[test]
    fn a_url_about_to_expire_is_not_used() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        // Presigned an hour ago for an hour and ten seconds: too old now.
        t.presigned(
            vec![upload(1, 5 * MIB, None, NOW as i64 + 10_000)],
            NOW - 3_600_000.0,
        );
        let actions = t.next(NOW);
        assert!(matches!(&actions[..], [Action::Presign(w)] if w[0].part_number == 1));
        // A link that lives 2 s is used in its first 1.5 s.
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        t.presigned(vec![upload(1, 5 * MIB, None, NOW as i64 + 2_000)], NOW);
        assert_eq!(sends(&t.next(NOW + 1_000.0)), vec![1]);
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        t.presigned(vec![upload(1, 5 * MIB, None, NOW as i64 + 2_000)], NOW);
        assert!(matches!(&t.next(NOW + 1_600.0)[..], [Action::Presign(_)]));
    }

    #[test]
    fn a_refused_part_fails_the_upload_with_its_reason() {
        let mut t = Transfer::new(5 * MIB, 5 * MIB, false, 1);
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        t.next(NOW);
        t.part_failed(1, PartFailure::Refused("too large".into()), NOW, 0.5);
        assert_eq!(t.next(NOW), vec![Action::Fail("too large".into())]);
    }

    #[test]
    fn pausing_stops_new_parts_and_interrupted_parts_go_again_without_a_try() {
        let mut t = Transfer::new(20 * MIB, 5 * MIB, false, 2);
        let a = t.next(NOW);
        presign_all(&mut t, &a);
        assert_eq!(sends(&t.next(NOW)), vec![1, 2]);
        t.set_paused(true);
        assert!(t.is_paused());
        assert_eq!(t.sending(), vec![1, 2]);
        t.interrupted(1);
        t.interrupted(2);
        assert!(t.next(NOW).is_empty());
        t.set_paused(false);
        assert_eq!(sends(&t.next(NOW)), vec![1, 2], "no backoff after a pause");
    }

    #[test]
    fn parts_the_store_has_are_not_sent_again() {
        let mut t = Transfer::new(15 * MIB, 5 * MIB, true, 3);
        for n in 1..=3 {
            t.hashed(n, format!("c{n}"));
        }
        let view = |n: u32, size: u64, sum: &str| UploadedPartView {
            part_number: n,
            size,
            etag: format!("e{n}"),
            checksum_sha256: Some(sum.into()),
        };
        // Part 1 matches; part 2's bytes differ; part 3 is short.
        let kept = t.already_stored(&[
            view(1, 5 * MIB, "c1"),
            view(2, 5 * MIB, "other"),
            view(3, MIB, "c3"),
        ]);
        assert_eq!(kept, 1);
        assert_eq!(t.stored_count(), 1);
        let a = t.next(NOW);
        let [Action::Presign(wanted)] = &a[..] else {
            panic!("{a:?}")
        };
        assert_eq!(
            wanted.iter().map(|w| w.part_number).collect::<Vec<_>>(),
            vec![2, 3]
        );
        presign_all(&mut t, &a);
        assert_eq!(sends(&t.next(NOW)), vec![2, 3]);
    }
}
