//! The bus's SQLite file: the event log, one delivery row per (event, rule),
//! and the dead letters.
//!
//! Everything here is synchronous and runs on a blocking thread. The file is
//! in WAL mode with `synchronous = FULL`, so a committed transaction survives
//! a crash or a power cut; another process (the `dlq` CLI) may open it at the
//! same time, which `busy_timeout` makes safe.
//!
//! A delivery is `pending` (due at `due_ms`), `in_flight` (claimed by a
//! dispatcher) or `done`. A delivery that ran out of attempts is moved to
//! `dead_letters`; a replay moves it back as a fresh `pending` delivery.

use crate::DeadLetter;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection's page cache, in KiB (`PRAGMA cache_size`). The log only
/// grows, so SQLite's default (2000 KiB) filled a page at a time for as
/// long as a server ran; the hot pages (the newest events, the pending
/// deliveries, the interior of the key index) fit in this, and the rest is
/// a `pread` away in the operating system's file cache.
pub(crate) const CACHE_KIB: i64 = 1024;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        id        TEXT NOT NULL UNIQUE,
        source    TEXT NOT NULL,
        event_key TEXT,
        body      TEXT NOT NULL,
        put_ms    INTEGER NOT NULL
    );
    -- A producer that retries a put carries the same metadata.EventId.
    CREATE UNIQUE INDEX IF NOT EXISTS events_by_key
        ON events (source, event_key) WHERE event_key IS NOT NULL;
    CREATE TABLE IF NOT EXISTS deliveries (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq  INTEGER NOT NULL REFERENCES events (seq),
        rule       TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'done')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        due_ms     INTEGER NOT NULL,
        last_error TEXT,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS deliveries_by_due ON deliveries (state, due_ms);
    CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_seq);
    CREATE TABLE IF NOT EXISTS dead_letters (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq  INTEGER NOT NULL REFERENCES events (seq),
        rule       TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        failed_at  TEXT NOT NULL
    );
";

/// Opens (creating when `create`) the bus file and makes sure its tables exist.
pub(crate) fn open(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch, by the system's wall clock.
///
/// Retry times are operational, not domain time: they use the real clock
/// even when the bus's `Clock` is a stopped test clock, so retries still
/// happen, and they survive a restart because they are wall-clock times.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An event ready to be appended, with the rules it matched.
#[derive(Debug)]
pub(crate) struct NewEvent {
    pub(crate) id: String,
    pub(crate) source: String,
    /// `detail.metadata.EventId`, when the detail has one.
    pub(crate) key: Option<String>,
    pub(crate) body: String,
    pub(crate) rules: Vec<String>,
}

/// Appends events and their deliveries in one transaction; an event whose
/// key was already appended from the same source is skipped. Returns how
/// many were appended.
pub(crate) fn append(
    conn: &mut Connection,
    events: &[NewEvent],
    now: i64,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let mut appended = 0;
    {
        let mut insert_event = tx.prepare_cached(
            "INSERT INTO events (id, source, event_key, body, put_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )?;
        let mut insert_delivery = tx.prepare_cached(
            "INSERT INTO deliveries (event_seq, rule, state, attempts, due_ms, updated_ms)
             VALUES (?1, ?2, 'pending', 0, ?3, ?3)",
        )?;
        for event in events {
            let inserted = insert_event.execute(params![
                event.id,
                event.source,
                event.key,
                event.body,
                now
            ])?;
            if inserted == 0 {
                tracing::debug!(source = %event.source, key = ?event.key, "bus: duplicate entry skipped");
                continue;
            }
            let seq = tx.last_insert_rowid();
            for rule in &event.rules {
                insert_delivery.execute(params![seq, rule, now])?;
            }
            appended += 1;
        }
    }
    tx.commit()?;
    Ok(appended)
}

/// Puts deliveries a dead process left in flight back to pending, due now.
pub(crate) fn recover(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE deliveries SET state = 'pending', due_ms = ?1, updated_ms = ?1
         WHERE state = 'in_flight'",
        params![now],
    )
}

/// A delivery claimed by the dispatcher.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) rule: String,
    /// Attempts made before this one.
    pub(crate) attempts: u32,
    pub(crate) body: String,
}

/// Marks up to `limit` due deliveries in flight and returns them, oldest due
/// first, with the time the next pending delivery is due.
pub(crate) fn claim(
    conn: &mut Connection,
    limit: usize,
    now: i64,
) -> rusqlite::Result<(Vec<Claimed>, Option<i64>)> {
    let tx = conn.transaction()?;
    let claimed = {
        let mut select = tx.prepare_cached(
            "SELECT d.id, d.rule, d.attempts, e.body
             FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE d.state = 'pending' AND d.due_ms <= ?1
             ORDER BY d.due_ms, d.id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = select.query_map(params![now, limit], |row| {
            Ok(Claimed {
                id: row.get(0)?,
                rule: row.get(1)?,
                attempts: row.get(2)?,
                body: row.get(3)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    if !claimed.is_empty() {
        let mut mark = tx.prepare_cached(
            "UPDATE deliveries SET state = 'in_flight', updated_ms = ?2 WHERE id = ?1",
        )?;
        for delivery in &claimed {
            mark.execute(params![delivery.id, now])?;
        }
    }
    let next_due = tx
        .query_row(
            "SELECT MIN(due_ms) FROM deliveries WHERE state = 'pending'",
            [],
            |row| row.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten();
    tx.commit()?;
    Ok((claimed, next_due))
}

/// Marks a delivery done.
pub(crate) fn complete(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE deliveries SET state = 'done', updated_ms = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// What to do with a delivery whose attempt failed.
#[derive(Debug)]
pub(crate) enum Failure<'a> {
    /// Try again at this time.
    RetryAt(i64),
    /// Move it to the dead letters, stamped with this time.
    DeadLetter { failed_at: &'a str },
}

/// Records a failed attempt: `attempts` is the count including it.
pub(crate) fn fail(
    conn: &mut Connection,
    id: i64,
    attempts: u32,
    error: &str,
    then: Failure<'_>,
    now: i64,
) -> rusqlite::Result<()> {
    match then {
        Failure::RetryAt(due) => {
            conn.execute(
                "UPDATE deliveries
                 SET state = 'pending', attempts = ?2, last_error = ?3, due_ms = ?4, updated_ms = ?5
                 WHERE id = ?1",
                params![id, attempts, error, due, now],
            )?;
        }
        Failure::DeadLetter { failed_at } => {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO dead_letters (event_seq, rule, attempts, last_error, failed_at)
                 SELECT event_seq, rule, ?2, ?3, ?4 FROM deliveries WHERE id = ?1",
                params![id, attempts, error, failed_at],
            )?;
            tx.execute("DELETE FROM deliveries WHERE id = ?1", params![id])?;
            tx.commit()?;
        }
    }
    Ok(())
}

/// Deliveries not yet done: pending (due or scheduled for a retry) or in flight.
pub(crate) fn outstanding(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')",
        [],
        |row| row.get(0),
    )
}

/// Every dead letter, oldest first.
pub(crate) fn dead_letters(conn: &Connection) -> rusqlite::Result<Vec<DeadLetter>> {
    let mut select = conn.prepare_cached(
        "SELECT l.id, l.rule, e.body, l.attempts, l.last_error, l.failed_at
         FROM dead_letters l JOIN events e ON e.seq = l.event_seq
         ORDER BY l.id",
    )?;
    let rows = select.query_map([], |row| {
        let body: String = row.get(2)?;
        let event = serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(DeadLetter {
            id: row.get(0)?,
            rule: row.get(1)?,
            event,
            attempts: row.get(3)?,
            last_error: row.get(4)?,
            failed_at: row.get(5)?,
        })
    })?;
    rows.collect()
}

/// Moves one dead letter (`Some(id)`) or all of them back to pending
/// deliveries with no attempts made, due now. Returns how many.
pub(crate) fn replay(conn: &mut Connection, id: Option<i64>, now: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO deliveries (event_seq, rule, state, attempts, due_ms, updated_ms)
         SELECT event_seq, rule, 'pending', 0, ?2, ?2 FROM dead_letters
         WHERE ?1 IS NULL OR id = ?1
         ORDER BY id",
        params![id, now],
    )?;
    let requeued = tx.execute(
        "DELETE FROM dead_letters WHERE ?1 IS NULL OR id = ?1",
        params![id],
    )?;
    tx.commit()?;
    Ok(requeued as u64)
}

/// Removes deliveries done before `cutoff`, then events put before `cutoff`
/// that no delivery or dead letter refers to any more. Returns how many
/// deliveries were removed.
pub(crate) fn prune(conn: &mut Connection, cutoff: i64) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let removed = tx.execute(
        "DELETE FROM deliveries WHERE state = 'done' AND updated_ms < ?1",
        params![cutoff],
    )?;
    tx.execute(
        "DELETE FROM events WHERE put_ms < ?1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)
         AND NOT EXISTS (SELECT 1 FROM dead_letters l WHERE l.event_seq = events.seq)",
        params![cutoff],
    )?;
    tx.commit()?;
    Ok(removed as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_file_is_in_wal_mode_with_full_sync() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("bus.sqlite3");
        for create in [true, false] {
            let conn = open(&path, create).unwrap();
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .unwrap();
            let sync: i64 = conn
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            assert_eq!(sync, 2, "synchronous = FULL");
            // The page cache is bounded below SQLite's default, so a
            // server's memory stops growing with the log (issue 15's soak).
            let cache: i64 = conn
                .query_row("PRAGMA cache_size", [], |row| row.get(0))
                .unwrap();
            assert_eq!(cache, -CACHE_KIB);
        }
    }

    #[test]
    fn a_claimed_delivery_is_not_claimed_again_until_recovered() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut conn = open(&dir.path().join("bus.sqlite3"), true).unwrap();
        let event = NewEvent {
            id: "id-1".to_owned(),
            source: "s".to_owned(),
            key: Some("k".to_owned()),
            body: "{}".to_owned(),
            rules: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(append(&mut conn, &[event], 10).unwrap(), 1);
        let (first, next) = claim(&mut conn, 1, 10).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(next, Some(10));
        let (second, next) = claim(&mut conn, 8, 10).unwrap();
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].id, second[0].id);
        assert_eq!(next, None);
        assert!(claim(&mut conn, 8, 10).unwrap().0.is_empty());
        assert_eq!(outstanding(&conn).unwrap(), 2);

        complete(&conn, first[0].id, 11).unwrap();
        fail(&mut conn, second[0].id, 1, "no", Failure::RetryAt(50), 11).unwrap();
        assert!(claim(&mut conn, 8, 49).unwrap().0.is_empty());
        let (retried, _) = claim(&mut conn, 8, 50).unwrap();
        assert_eq!(retried[0].attempts, 1);
        assert_eq!(recover(&conn, 60).unwrap(), 1);
        assert_eq!(claim(&mut conn, 8, 60).unwrap().0.len(), 1);
    }
}
