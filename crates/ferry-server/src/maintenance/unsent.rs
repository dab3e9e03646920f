//! Accepted commands that never reached the bus, found and put there.
//!
//! The API is storage first: it records a command in the index, then puts
//! its envelope on the bus, then answers `202`. A crash between the first
//! two steps, or a backup whose index copy holds the command while its bus
//! copy (taken a moment apart) doesn't, leaves a command that is pending
//! with nothing on the bus to carry it out. Both `ferry-server check
//! --repair` and a running server (at start, then every
//! [`RESEND_EVERY`], see [`resend_pass`]) find such commands with
//! [`find`] and put each on the bus with [`resend`], as the API would have.
//!
//! Why that is safe, with the promises AWS makes: only a command older than
//! [`UNSENT_AFTER`] counts, so one the API is about to put is left to it;
//! if both put it all the same, the bus keeps a key (`UserId/EventId`)
//! once, and a consumer skips an event it handled (delivery is at least
//! once, so consumers dedupe anyway). A command whose envelope is on the
//! bus, even one whose delivery failed into the dead letters, is never put
//! again: that one waits for `dlq replay`.

use super::open_db;
use ferry_core::ports::{Bus, BusEntry, PortResult};
use rusqlite::{Connection, OptionalExtension as _, params};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// How long a pending command may lack its bus entry before it counts as
/// unsent: the API records a command and puts it on the bus right after, so
/// only a command older than this is past that instant.
pub const UNSENT_AFTER: Duration = Duration::from_secs(60);

/// How often a running server looks for unsent commands (it also looks at
/// start). Each look reads the pending commands in pages of [`PAGE`].
pub const RESEND_EVERY: Duration = Duration::from_secs(60);

/// Pending commands read per query: a look holds no transaction across
/// pages, so the server's writer never waits on it for long.
const PAGE: u32 = 500;

/// An accepted command, still pending, with no entry on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The sub.
    pub user: String,
    /// The command's id.
    pub command_id: Uuid,
    /// Its action.
    pub action: String,
    /// The envelope the API stored with it, as it would have put it.
    pub envelope: serde_json::Value,
    /// When it was accepted, Unix nanoseconds (the index's time).
    pub accepted_at: i64,
}

/// Where a look through the pending commands goes on from: the last
/// command read, in the order [`find`] reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(Option<(i64, String, Vec<u8>)>);

/// Pending commands accepted before `before` (Unix nanoseconds) that the
/// bus has no entry for (by the key the API put them with: `UserId/EventId`,
/// or the bare id from before keys had users), reading at most `limit`
/// pending commands after `cursor`. Returns them and where to go on from,
/// or `None` when this was the last page.
///
/// The index is read before the bus, so a command put between the two
/// reads is seen on the bus, never reported unsent.
pub fn find(
    index: &Connection,
    bus: &Connection,
    before: i64,
    cursor: &Cursor,
    limit: u32,
) -> rusqlite::Result<(Vec<Unsent>, Option<Cursor>)> {
    let (after_at, after_user, after_id) =
        cursor
            .0
            .clone()
            .unwrap_or((i64::MIN, String::new(), Vec::new()));
    let pending: Vec<(String, Vec<u8>, String, String, i64)> = index
        .prepare_cached(
            "SELECT user, command_id, action, response, accepted_at FROM commands
             WHERE status = 'pending' AND accepted_at < ?1
               AND (accepted_at, user, command_id) > (?2, ?3, ?4)
             ORDER BY accepted_at, user, command_id
             LIMIT ?5",
        )?
        .query_map(
            params![before, after_at, after_user, after_id, limit],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    let next = (pending.len() >= limit as usize)
        .then(|| pending.last())
        .flatten()
        .map(|(user, id, _, _, at)| Cursor(Some((*at, user.clone(), id.clone()))));
    let mut on_bus =
        bus.prepare_cached("SELECT 1 FROM events WHERE source = ?1 AND event_key IN (?2, ?3)")?;
    let mut found = Vec::new();
    for (user, id, action, response, accepted_at) in pending {
        let Ok(command_id) = Uuid::from_slice(&id) else {
            continue;
        };
        // Only a command the API put on the bus has its envelope kept (the
        // ones answered at once, such as CreateFile, never go there).
        let Some(envelope) = serde_json::from_str::<serde_json::Value>(&response)
            .ok()
            .and_then(|r| r.get("envelope").cloned())
        else {
            continue;
        };
        let sent = on_bus
            .query_row(
                params![
                    ferry_protocol::envelope::COMMAND_SOURCE,
                    format!("{user}/{command_id}"),
                    command_id.to_string()
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !sent {
            found.push(Unsent {
                user,
                command_id,
                action,
                envelope,
                accepted_at,
            });
        }
    }
    Ok((found, next))
}

/// Puts an unsent command on the bus as the API would have: its stored
/// envelope, from the commands' source, under its action.
pub async fn resend(bus: &dyn Bus, unsent: &Unsent) -> PortResult<()> {
    bus.put(vec![BusEntry {
        source: ferry_protocol::envelope::COMMAND_SOURCE.to_owned(),
        detail_type: unsent.action.clone(),
        detail: unsent.envelope.clone(),
    }])
    .await
}

/// Finds the commands of the data directory at `data_dir` accepted more
/// than [`UNSENT_AFTER`] before `now` (Unix nanoseconds) that are not on
/// the bus, and puts each on `bus`. Returns those put.
///
/// What a running server does at start and every [`RESEND_EVERY`]: the
/// reads go through connections of their own, one page at a time, off the
/// async workers; the puts through the server's bus, so its dispatcher
/// delivers them.
pub async fn resend_pass(data_dir: &Path, bus: &dyn Bus, now: i64) -> anyhow::Result<Vec<Unsent>> {
    let before = now.saturating_sub(i64::try_from(UNSENT_AFTER.as_nanos()).unwrap_or(i64::MAX));
    let (index_path, bus_path) = (data_dir.join("index.sqlite3"), data_dir.join("bus.sqlite3"));
    let mut cursor = Cursor::default();
    let mut sent = Vec::new();
    loop {
        let (index_path, bus_path, at) = (index_path.clone(), bus_path.clone(), cursor.clone());
        let (found, next) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let index = open_db(&index_path, false)?;
            let bus = open_db(&bus_path, false)?;
            Ok(find(&index, &bus, before, &at, PAGE)?)
        })
        .await??;
        for unsent in found {
            resend(bus, &unsent).await?;
            sent.push(unsent);
        }
        match next {
            Some(next) => cursor = next,
            None => return Ok(sent),
        }
    }
}
