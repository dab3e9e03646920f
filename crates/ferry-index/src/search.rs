//! Search: which of a user's files have a name holding some text, a page at
//! a time in (name, file id) order.
//!
//! Two plans give the same pages:
//! - the scan walks `files_live_search` in name order and tests every folded
//!   name with `instr`, stopping once a page is full: cheap when matches are
//!   common, but a rare term reads every name the user has;
//! - the trigram plan reads only the files whose folded name holds the
//!   term's rarest trigram (`name_trigrams`, kept by triggers; see schema
//!   step 4), tests those the same way and sorts the few that match.
//!
//! A term of three or more characters whose rarest trigram has at most
//! [`TRIGRAM_BUDGET`] files takes the trigram plan; anything else scans.
//! Finding the rarest trigram is one lookup per trigram in
//! `name_trigram_counts` (kept by the same triggers), so a common term pays
//! next to nothing before its scan.
//!
//! Every folded name that holds the term holds each of its trigrams, and
//! both plans apply the same test (`instr` on the folded name, a current
//! status, after the cursor), so they answer the same rows in the same
//! order; the tests below compare them page by page.

use crate::codec::{Cursor, FILE_COLUMNS, clamp_limit, fold};
use crate::db::StoreResult;
use crate::ops::{file_page, invalid_cursor};
use ferry_core::model::{FileRecord, Page, UserId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

/// The most files the trigram plan reads for one search. Reading a
/// candidate is a primary-key seek, some twenty times the cost of testing
/// one name in the scan, so past a few thousand candidates the scan (which
/// stops at a full page) is as likely to win.
pub(crate) const TRIGRAM_BUDGET: u64 = 2_000;

/// How a search finds the files it tests. The port's search uses
/// [`SearchPlan::default`]; the others are there for benches and tests that
/// compare plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPlan {
    /// Test every current name in name order.
    Scan,
    /// Test the files holding the term's rarest trigram when it has at most
    /// `budget` of them, else scan. Terms under three characters scan.
    RarestTrigram {
        /// The most candidates the trigram plan may read.
        budget: u64,
    },
}

impl Default for SearchPlan {
    /// The rarest trigram within [`TRIGRAM_BUDGET`] files.
    fn default() -> Self {
        Self::RarestTrigram {
            budget: TRIGRAM_BUDGET,
        }
    }
}

/// The distinct trigrams of a folded text: every run of three characters
/// (code points, as SQLite's `substr` counts them).
pub(crate) fn trigrams(folded: &str) -> BTreeSet<String> {
    let chars: Vec<char> = folded.chars().collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// A page of the scan: `?1` user, `?2` folded text, `?3`, `?4` the cursor's
/// name and id. `instr` rather than `LIKE`: no wildcard to escape, and the
/// folding is Unicode's, not ASCII's.
pub(crate) fn scan_sql(after_cursor: bool, limit: usize) -> String {
    let after = if after_cursor {
        " AND (name, file_id) > (?3, ?4)"
    } else {
        ""
    };
    // The matching ids come from files_live_search alone, which holds the
    // folded name (reading each row in full would cost a table seek per
    // name); only the page's rows are read.
    format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user = ?1 AND file_id IN (
             SELECT file_id FROM files INDEXED BY files_live_search
             WHERE user = ?1 AND status IN ('uploading', 'available') AND instr(name_folded, ?2) > 0{after}
             ORDER BY name, file_id LIMIT {limit})
         ORDER BY name, file_id"
    )
}

/// A page of the trigram plan: `?1` user, `?2` folded text, `?3`, `?4` the
/// cursor's name and id, `?5` the trigram.
pub(crate) fn trigram_sql(after_cursor: bool, limit: usize) -> String {
    let after = if after_cursor {
        " AND (name, file_id) > (?3, ?4)"
    } else {
        ""
    };
    // CROSS JOIN keeps the candidates outside, so each is one primary-key
    // seek into files; only the matches are sorted.
    format!(
        "SELECT {FILE_COLUMNS} FROM
             (SELECT file_id AS candidate FROM name_trigrams WHERE user = ?1 AND trigram = ?5)
             CROSS JOIN files ON files.user = ?1 AND files.file_id = candidate
         WHERE status IN ('uploading', 'available') AND instr(name_folded, ?2) > 0{after}
         ORDER BY name, file_id LIMIT {limit}"
    )
}

/// How many of the user's files hold `trigram` (no row: none).
const TRIGRAM_COUNT_SQL: &str =
    "SELECT files FROM name_trigram_counts WHERE user = ?1 AND trigram = ?2";

/// The trigram of `folded` held by the fewest of the user's files, if one
/// is held by at most `budget`.
fn rarest_trigram(
    conn: &Connection,
    user: &UserId,
    folded: &str,
    budget: u64,
) -> StoreResult<Option<String>> {
    let mut count = conn.prepare_cached(TRIGRAM_COUNT_SQL)?;
    let mut best: Option<(u64, String)> = None;
    for trigram in trigrams(folded) {
        let n: Option<i64> = count
            .query_row(params![user.as_str(), trigram], |row| row.get(0))
            .optional()?;
        let n = n.map_or(0, |n| u64::try_from(n).unwrap_or(0));
        if n <= budget && best.as_ref().is_none_or(|(least, _)| n < *least) {
            best = Some((n, trigram));
            if n == 0 {
                break;
            }
        }
    }
    Ok(best.map(|(_, trigram)| trigram))
}

pub(crate) fn search(
    conn: &Connection,
    user: &UserId,
    text: &str,
    cursor: Option<&str>,
    limit: u32,
    plan: SearchPlan,
) -> StoreResult<Page<FileRecord>> {
    let limit = clamp_limit(limit) as usize;
    let folded = fold(text);
    let mut args = vec![
        Value::Text(user.as_str().to_owned()),
        Value::Text(folded.clone()),
    ];
    let after_cursor = match cursor.map(Cursor::decode).transpose()? {
        None => false,
        Some(Cursor::Search { n, i }) => {
            args.push(Value::Text(n));
            args.push(Value::Blob(i.as_bytes().to_vec()));
            true
        }
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let trigram = match plan {
        SearchPlan::RarestTrigram { budget } if folded.chars().nth(2).is_some() => {
            rarest_trigram(conn, user, &folded, budget)?
        }
        _ => None,
    };
    let sql = match trigram {
        Some(trigram) => {
            if !after_cursor {
                // Keeps the trigram at ?5.
                args.extend([Value::Null, Value::Null]);
            }
            args.push(Value::Text(trigram));
            trigram_sql(after_cursor, limit + 1)
        }
        None => scan_sql(after_cursor, limit + 1),
    };
    file_page(conn, &sql, args, limit, |file| Cursor::Search {
        n: file.name.as_str().to_owned(),
        i: file.file_id,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::db::Pool;
    use crate::ops;
    use crate::ops::tests::plan;
    use ferry_core::conformance::{file, next, user};
    use ferry_core::model::FileStatus;
    use ferry_protocol::FileName;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    #[test]
    fn the_scan_walks_the_name_index_and_the_trigram_plan_its_candidates() {
        let pool = Pool::open_in_memory().unwrap();
        let conn = pool.writer();
        for after_cursor in [false, true] {
            let scanned = plan(&conn, &scan_sql(after_cursor, 101));
            assert!(
                scanned.contains("COVERING INDEX files_live_search (user=?"),
                "{scanned}"
            );
            assert!(!scanned.contains("SCAN"), "{scanned}");
            // Only the page itself is sorted, after the ids are found.
            assert_eq!(scanned.matches("TEMP B-TREE").count(), 1, "{scanned}");

            let by_trigram = plan(&conn, &trigram_sql(after_cursor, 101));
            assert!(
                by_trigram.contains("name_trigrams USING PRIMARY KEY (user=? AND trigram=?)"),
                "{by_trigram}"
            );
            assert!(
                by_trigram.contains("files USING PRIMARY KEY (user=? AND file_id=?)"),
                "{by_trigram}"
            );
            assert!(!by_trigram.contains("SCAN"), "{by_trigram}");
        }
        let counted = plan(&conn, TRIGRAM_COUNT_SQL);
        assert!(
            counted.contains("name_trigram_counts USING PRIMARY KEY (user=? AND trigram=?)"),
            "{counted}"
        );
    }

    #[test]
    fn trigrams_are_runs_of_three_characters() {
        assert_eq!(
            trigrams("été.tx"),
            ["té.", "été", "é.t", ".tx"]
                .map(str::to_owned)
                .into_iter()
                .collect()
        );
        assert!(trigrams("ab").is_empty());
        assert_eq!(trigrams("aaaa").len(), 1);
    }

    /// The trigger's positions cover every name: a name is at most
    /// `MAX_NAME_BYTES`, and folding makes at most three characters of one
    /// byte's worth.
    #[test]
    fn the_trigram_positions_cover_the_longest_folded_name() {
        let pool = Pool::open_in_memory().unwrap();
        let conn = pool.writer();
        let positions: u32 = conn
            .query_row("SELECT max(n) FROM name_trigram_positions", [], |row| {
                row.get(0)
            })
            .unwrap();
        let positions = positions as usize;
        assert!(3 * ferry_protocol::path::MAX_NAME_BYTES <= positions + 2);
        for worst in ["İ".repeat(127), "ΐ".repeat(127), "x".repeat(255)] {
            let name = FileName::parse(&worst).unwrap();
            assert!(fold(name.as_str()).chars().count() <= positions + 2);
        }
    }

    /// What `name_trigrams` holds, and what it should hold given the files;
    /// checks on the way that `name_trigram_counts` counts it.
    pub(crate) fn trigram_rows(conn: &Connection) -> (BTreeSet<Row>, BTreeSet<Row>) {
        let counts = |sql: &str| -> BTreeSet<(String, String, i64)> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            counts("SELECT user, trigram, files FROM name_trigram_counts"),
            counts("SELECT user, trigram, count(*) FROM name_trigrams GROUP BY user, trigram")
        );
        let held = conn
            .prepare("SELECT user, trigram, file_id FROM name_trigrams")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let files: Vec<(String, String, Vec<u8>)> = conn
            .prepare("SELECT user, name, file_id FROM files")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = files
            .into_iter()
            .flat_map(|(user, name, id)| {
                trigrams(&fold(&name))
                    .into_iter()
                    .map(move |t| (user.clone(), t, id.clone()))
            })
            .collect();
        (held, expected)
    }

    pub(crate) type Row = (String, String, Vec<u8>);

    /// Every page of a search with one plan.
    fn pages(conn: &Connection, text: &str, limit: u32, plan: SearchPlan) -> Vec<Page<FileRecord>> {
        let ann = user("ann");
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = search(conn, &ann, text, cursor.as_deref(), limit, plan).unwrap();
            cursor.clone_from(&page.next_cursor);
            pages.push(page);
            if cursor.is_none() {
                return pages;
            }
        }
    }

    /// Characters that fold in interesting ways: case, accents composed and
    /// not, a lower case longer than its capital (İ), final sigma, ß, and
    /// the wildcards.
    const ALPHABET: &[&str] = &[
        "a", "b", "A", "B", "e", "é", "É", "\u{301}", "İ", "i", "Σ", "σ", "ß", "ẞ", "%", "_", ".",
        " ", "0",
    ];

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..max)
            .prop_map(|parts| parts.concat())
    }

    #[derive(Debug, Clone)]
    enum Change {
        Rename(usize, String),
        Delete(usize),
        Remove(usize),
        MakeAvailable(usize),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (any::<prop::sample::Index>(), text(10))
                .prop_map(|(i, name)| Change::Rename(i.index(usize::MAX), name)),
            any::<prop::sample::Index>().prop_map(|i| Change::Delete(i.index(usize::MAX))),
            any::<prop::sample::Index>().prop_map(|i| Change::Remove(i.index(usize::MAX))),
            any::<prop::sample::Index>().prop_map(|i| Change::MakeAvailable(i.index(usize::MAX))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the names and their history, the trigram plan answers
        /// exactly the scan's pages, and the trigram rows are exactly the
        /// files' trigrams.
        #[test]
        fn the_trigram_plan_answers_what_the_scan_does(
            names in prop::collection::vec((text(10), 0usize..3), 1..40),
            changes in prop::collection::vec(change(), 0..30),
            queries in prop::collection::vec((text(5), any::<prop::sample::Index>(), 0usize..4), 1..12),
            limit in 1u32..5,
        ) {
            let pool = Pool::open_in_memory().unwrap();
            let mut conn = pool.writer();
            let ann = user("ann");
            let folders = ["", "x", "x/y"];
            let mut live: BTreeMap<usize, FileRecord> = BTreeMap::new();
            for (n, (name, folder)) in names.iter().enumerate() {
                if FileName::parse(name).is_err() {
                    continue;
                }
                let mut record = file(&ann, folders[*folder], name, 1);
                record.file_id = Uuid::from_u128(n as u128 + 1);
                if ops::insert_file(&mut conn, &record, None, false).is_ok() {
                    live.insert(n, record);
                }
            }
            // Another user's names share every trigram and never show.
            let mut bob = file(&user("bob"), "", "aaabbbééé", 1);
            bob.file_id = Uuid::from_u128(u128::MAX);
            ops::insert_file(&mut conn, &bob, None, false).unwrap();
            for change in changes {
                let keys: Vec<usize> = live.keys().copied().collect();
                if keys.is_empty() {
                    break;
                }
                let pick = |i: usize| keys[i % keys.len()];
                match change {
                    Change::Rename(i, name) => {
                        let Ok(name) = FileName::parse(&name) else { continue };
                        let old = &live[&pick(i)];
                        let new = next(old, |f| f.name = name);
                        if ops::update_file(&mut conn, &new, old.version).is_ok() {
                            live.insert(pick(i), new);
                        }
                    }
                    Change::Delete(i) => {
                        let old = &live[&pick(i)];
                        let new = next(old, |f| f.status = FileStatus::Deleting);
                        ops::update_file(&mut conn, &new, old.version).unwrap();
                        live.insert(pick(i), new);
                    }
                    Change::MakeAvailable(i) => {
                        let old = &live[&pick(i)];
                        let new = next(old, |f| f.status = FileStatus::Available);
                        if ops::update_file(&mut conn, &new, old.version).is_ok() {
                            live.insert(pick(i), new);
                        }
                    }
                    Change::Remove(i) => {
                        let old = live.remove(&pick(i)).unwrap();
                        assert!(ops::remove_file(&mut conn, &ann, old.file_id, old.version).unwrap());
                    }
                }
            }
            let (held, expected) = trigram_rows(&conn);
            prop_assert_eq!(held, expected);

            let names: Vec<String> = live.values().map(|f| f.name.as_str().to_owned()).collect();
            for (query, pick, start) in queries {
                // Half the queries are pieces of the names, so most find something.
                let query = if names.is_empty() || pick.index(2) == 0 {
                    query
                } else {
                    names[pick.index(names.len())].chars().skip(start).take(3 + start).collect()
                };
                let scanned = pages(&conn, &query, limit, SearchPlan::Scan);
                for plan in [
                    SearchPlan::RarestTrigram { budget: u64::MAX },
                    SearchPlan::RarestTrigram { budget: 2 },
                    SearchPlan::default(),
                ] {
                    prop_assert_eq!(&pages(&conn, &query, limit, plan), &scanned, "{:?} {:?}", query, plan);
                }
            }
        }
    }
}
