//! The index on DynamoDB: one table, a partition per user, every write that
//! must be atomic (a file, its name, its owner's usage, its folders) one
//! `TransactWriteItems`. The layout is in ARCHITECTURE.md ("The index on
//! DynamoDB") and in [`table`], which the tests create the table from and
//! which the SAM template must match.
//!
//! Reads that must see the last write (a file by id or by name, usage, a
//! command, a trash item by id) are strongly consistent reads of the base
//! table; listings, search, the trash and a file's versions read global
//! secondary indexes, which DynamoDB keeps up to date within about a
//! second.

pub(crate) mod codec;
pub mod table;

use crate::AwsSettings;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, Update,
    WriteRequest,
};
use codec::{
    Cursor, Expr, Item, by_name_of_file, file_from_item, file_item, file_key, folder_key, key,
    name_key, ordered_time, s, sort_key_of, user_key, user_pk,
};
use ferry_core::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, MAX_PAGE, Page,
    SortKey, TrashItem, Usage, UserId,
};
use ferry_core::ports::{Index, PortError, PortResult, PutCommand};
use ferry_protocol::{FolderPath, Timestamp};
use uuid::Uuid;

pub use codec::fold;

/// DynamoDB's most items in one transaction.
const MAX_TRANSACTION: usize = 100;
/// How many times a transaction that collided with another goes again.
const CONFLICT_TRIES: u32 = 10;
/// How long a consumer's "processed" mark is kept: longer than any
/// redelivery (EventBridge retries for at most 24 hours, SQS keeps a
/// dead letter 14 days).
const PROCESSED_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// Ferry's file index in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoIndex {
    client: Client,
    table: String,
}

/// What a condition in a transaction guarded, to say which one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Nothing.
    None,
    /// The file doesn't exist yet.
    NewFile,
    /// The file is at the expected version.
    Version,
    /// The name is free.
    Name,
    /// The quota has room.
    Quota,
    /// The folder doesn't exist yet.
    NewFolder,
}

/// A transaction's items, each with what its condition guards.
#[derive(Debug, Default)]
struct Transaction {
    items: Vec<(Guard, TransactWriteItem)>,
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> PortResult<T> {
    result.map_err(|e| PortError::Other(format!("DynamoDB request: {e}")))
}

fn unavailable<E, R>(err: SdkError<E, R>) -> PortError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    PortError::Unavailable(format!(
        "DynamoDB: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    ))
}

fn clamp_limit(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE) as usize
}

fn name_taken(folder: &FolderPath, name: &str) -> PortError {
    PortError::Conflict(format!("“{name}” already exists in {folder}"))
}

impl Transaction {
    fn put(
        &mut self,
        guard: Guard,
        table: &str,
        item: Item,
        expr: Option<(String, Expr)>,
    ) -> PortResult<()> {
        let mut put = Put::builder().table_name(table).set_item(Some(item));
        if let Some((condition, expr)) = expr {
            put = put
                .condition_expression(condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values());
        }
        self.items.push((
            guard,
            TransactWriteItem::builder()
                .put(built(put.build())?)
                .build(),
        ));
        Ok(())
    }

    fn update(
        &mut self,
        guard: Guard,
        table: &str,
        key: Item,
        update: String,
        condition: Option<String>,
        expr: Expr,
    ) -> PortResult<()> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values());
        self.items.push((
            guard,
            TransactWriteItem::builder()
                .update(built(update.build())?)
                .build(),
        ));
        Ok(())
    }

    fn delete(
        &mut self,
        guard: Guard,
        table: &str,
        key: Item,
        condition: Option<(String, Expr)>,
    ) -> PortResult<()> {
        let mut delete = Delete::builder().table_name(table).set_key(Some(key));
        if let Some((condition, expr)) = condition {
            delete = delete
                .condition_expression(condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values());
        }
        self.items.push((
            guard,
            TransactWriteItem::builder()
                .delete(built(delete.build())?)
                .build(),
        ));
        Ok(())
    }
}

/// A file's hold on its name: `live` holds every file of that folder and
/// name that is uploading or available (at most one, unless a replacing
/// upload shares it), `avail` the one available file. Files being deleted,
/// trashed files and versions hold none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    live: bool,
    avail: bool,
}

impl Hold {
    fn of(status: FileStatus) -> Self {
        Self {
            live: matches!(status, FileStatus::Uploading | FileStatus::Available),
            avail: status == FileStatus::Available,
        }
    }

    const NONE: Self = Self {
        live: false,
        avail: false,
    };
}

impl DynamoIndex {
    /// The index in `table`.
    pub fn new(settings: &AwsSettings, table: &str) -> Self {
        Self {
            client: Client::new(&settings.sdk_config()),
            table: table.to_owned(),
        }
    }

    /// Creates the table as [`table::definition`] describes it (for tests
    /// against a stand-in; on AWS the SAM template creates it).
    pub async fn create_table(&self) -> PortResult<()> {
        table::create(&self.client, &self.table).await
    }

    async fn get(&self, key: Item) -> PortResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn stored_file(&self, user: &UserId, file_id: Uuid) -> PortResult<Option<FileRecord>> {
        self.get(file_key(user, file_id))
            .await?
            .map(|item| file_from_item(&item))
            .transpose()
    }

    /// Runs a transaction; a failed condition becomes the error its guard
    /// names.
    async fn commit(&self, tx: Transaction, file: Option<&FileRecord>) -> PortResult<()> {
        if tx.items.is_empty() {
            return Ok(());
        }
        let guards: Vec<Guard> = tx.items.iter().map(|(g, _)| *g).collect();
        let items: Vec<TransactWriteItem> = tx.items.into_iter().map(|(_, item)| item).collect();
        let mut tries = 0;
        let err = loop {
            tries += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(());
            };
            // Another transaction held one of the items (the owner's usage,
            // a name) at that instant: DynamoDB refuses rather than waits,
            // so this one goes again, its conditions checked anew.
            let conflicted = matches!(
                err.as_service_error(),
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"))
                        && !c.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
            ) || matches!(
                err.as_service_error(),
                Some(TransactWriteItemsError::TransactionInProgressException(_))
            );
            if !conflicted || tries >= CONFLICT_TRIES {
                break err;
            }
            let jitter = u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
                    % 20,
            );
            tokio::time::sleep(std::time::Duration::from_millis(
                (10 << tries.min(6)) + jitter,
            ))
            .await;
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let failed = cancelled
                .cancellation_reasons()
                .iter()
                .zip(&guards)
                .find(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"))
                .map(|(_, guard)| *guard);
            let what = file.map_or_else(String::new, |f| f.file_id.to_string());
            return Err(match failed {
                Some(Guard::NewFile) => PortError::Conflict(format!("file {what} already exists")),
                Some(Guard::Version) => {
                    PortError::Conflict(format!("file {what} changed meanwhile"))
                }
                Some(Guard::Name) => match file {
                    Some(f) => name_taken(&f.folder, f.name.as_str()),
                    None => PortError::Conflict("the name is taken".into()),
                },
                Some(Guard::Quota) => PortError::QuotaExceeded(format!(
                    "storing {} more bytes would exceed the quota",
                    file.map_or(0, |f| f.size)
                )),
                Some(Guard::NewFolder) => PortError::Conflict("the folder exists".into()),
                // Another transaction touched the same items at once.
                Some(Guard::None) | None => PortError::Unavailable(format!(
                    "DynamoDB cancelled the transaction: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&err)
                )),
            });
        }
        Err(unavailable(err))
    }

    /// Adds to `tx` the change of one name's holds, from `old` to `new`, for
    /// file `id`. `exclusive`: a new live hold needs the name free of live
    /// holds (an upload that doesn't replace).
    #[allow(clippy::too_many_arguments)]
    fn change_hold(
        &self,
        tx: &mut Transaction,
        user: &UserId,
        folder: &FolderPath,
        name: &str,
        id: Uuid,
        old: Hold,
        new: Hold,
        exclusive: bool,
    ) -> PortResult<()> {
        if old == new {
            return Ok(());
        }
        let mut expr = Expr::default();
        let id_set = AttributeValue::Ss(vec![id.to_string()]);
        let mut add = Vec::new();
        let mut delete = Vec::new();
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut conditions = Vec::new();
        if new.live && !old.live {
            let live = expr.name("live");
            add.push(format!("{live} {}", expr.value("ids", id_set.clone())));
            if exclusive {
                conditions.push(format!("attribute_not_exists({live})"));
            }
        }
        if old.live && !new.live {
            let live = expr.name("live");
            delete.push(format!("{live} {}", expr.value("ids", id_set)));
        }
        if new.avail && !old.avail {
            let avail = expr.name("avail");
            let me = expr.value("id", s(id.to_string()));
            set.push(format!("{avail} = {me}"));
            conditions.push(format!("(attribute_not_exists({avail}) OR {avail} = {me})"));
        }
        if old.avail && !new.avail {
            remove.push(expr.name("avail"));
        }
        let mut update = String::new();
        for (word, parts) in [
            ("ADD", add),
            ("DELETE", delete),
            ("SET", set),
            ("REMOVE", remove),
        ] {
            if !parts.is_empty() {
                update.push_str(&format!("{word} {} ", parts.join(", ")));
            }
        }
        let guard = if conditions.is_empty() {
            Guard::None
        } else {
            Guard::Name
        };
        tx.update(
            guard,
            &self.table,
            name_key(user, folder, name),
            update,
            (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            expr,
        )
    }

    /// Adds to `tx` a change of `user`'s usage, and with it their entry in
    /// the users index; `room`: the bytes they may hold before this change
    /// (a quota check).
    fn change_usage(
        &self,
        tx: &mut Transaction,
        user: &UserId,
        change: Weight,
        room: Option<u64>,
    ) -> PortResult<()> {
        let mut expr = Expr::default();
        let mut adds = vec![
            format!(
                "{} {}",
                expr.name("bytes"),
                expr.value("b", AttributeValue::N(change.bytes.to_string()))
            ),
            format!(
                "{} {}",
                expr.name("files"),
                expr.value("f", AttributeValue::N(change.files.to_string()))
            ),
        ];
        for (attr, key, delta) in [
            ("trash_bytes", "tb", change.trash),
            ("version_bytes", "vb", change.versions),
        ] {
            if delta != 0 {
                adds.push(format!(
                    "{} {}",
                    expr.name(attr),
                    expr.value(key, AttributeValue::N(delta.to_string()))
                ));
            }
        }
        let update = format!(
            "ADD {} SET {} = {}, {} = {}",
            adds.join(", "),
            expr.name("users"),
            expr.value("users", s(table::USERS)),
            expr.name("user_sub"),
            expr.value("sub", s(user.as_str())),
        );
        let condition = room.map(|room| {
            let b = expr.name("bytes");
            format!(
                "attribute_not_exists({b}) OR {b} <= {}",
                expr.value("room", AttributeValue::N(room.to_string()))
            )
        });
        let guard = if condition.is_some() {
            Guard::Quota
        } else {
            Guard::None
        };
        tx.update(guard, &self.table, user_key(user), update, condition, expr)
    }

    /// The folders from `path` up that don't exist yet (the root always
    /// does), deepest first.
    async fn missing_folders(
        &self,
        user: &UserId,
        path: &FolderPath,
    ) -> PortResult<Vec<FolderPath>> {
        let mut chain = Vec::new();
        let mut current = Some(path.clone());
        while let Some(folder) = current {
            if folder.is_root() {
                break;
            }
            current = folder.parent();
            chain.push(folder);
        }
        let mut existing = std::collections::HashSet::new();
        for batch in chain.chunks(100) {
            let mut keys: Vec<Item> = batch.iter().map(|f| folder_key(user, f)).collect();
            while !keys.is_empty() {
                let request = built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build(),
                )?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in out
                    .responses
                    .as_ref()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    if let Some(AttributeValue::S(path)) = item.get("path") {
                        existing.insert(path.clone());
                    }
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(chain
            .into_iter()
            .filter(|f| !existing.contains(f.as_str()))
            .collect())
    }

    /// An upsert of folder `path` (created at `at` unless it exists).
    fn folder_upsert(
        &self,
        tx: &mut Transaction,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<()> {
        let mut expr = Expr::default();
        let (parent, name) = match (path.parent(), path.name()) {
            (Some(parent), Some(name)) => (parent, name.to_owned()),
            _ => return Ok(()),
        };
        let created = expr.name("created_at");
        let update = format!(
            "SET {} = {}, {created} = if_not_exists({created}, {}), {} = {}, {} = {}",
            expr.name("path"),
            expr.value("path", s(path.as_str())),
            expr.value("at", codec::time_value(at)?),
            expr.name("dir"),
            expr.value("dir", s(codec::dir_key(user, &parent))),
            expr.name("by_name"),
            expr.value("by_name", s(format!("D{name}"))),
        );
        tx.update(
            Guard::None,
            &self.table,
            folder_key(user, path),
            update,
            None,
            expr,
        )
    }

    /// Adds the missing folders of `path` to `tx`; those that don't fit
    /// (a very deep new path) are written first, on their own.
    async fn ensure_folders(
        &self,
        tx: &mut Transaction,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<()> {
        let missing = self.missing_folders(user, path).await?;
        let room = MAX_TRANSACTION.saturating_sub(tx.items.len() + 1);
        let (inside, before) = missing.split_at(missing.len().min(room));
        for folder in before.iter().rev() {
            let mut alone = Transaction::default();
            self.folder_upsert(&mut alone, user, folder, at)?;
            self.commit(alone, None).await?;
        }
        for folder in inside {
            self.folder_upsert(tx, user, folder, at)?;
        }
        Ok(())
    }

    /// Deletes an empty name item left behind (no holds), so renames don't
    /// leave one item per old name. Losing a race to a new hold is fine.
    async fn tidy_name(&self, user: &UserId, folder: &FolderPath, name: &str) {
        let mut expr = Expr::default();
        let condition = format!(
            "attribute_exists({}) AND attribute_not_exists({}) AND attribute_not_exists({})",
            expr.name("pk"),
            expr.name("live"),
            expr.name("avail")
        );
        let _ = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(name_key(user, folder, name)))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .send()
            .await;
    }

    /// Runs a query to the end or until `want` items passed `keep`; answers
    /// them in the query's order.
    async fn query_items(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        want: usize,
        keep: impl Fn(&Item) -> bool,
    ) -> PortResult<Vec<Item>> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                if keep(&item) {
                    found.push(item);
                    if found.len() >= want {
                        return Ok(found);
                    }
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// A query of `index` (or the table), its key condition and filter
    /// written with `expr`'s names and values.
    fn query(
        &self,
        index: Option<&str>,
        condition: String,
        filter: Option<String>,
        forward: bool,
        expr: Expr,
        limit: usize,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(condition)
            .set_filter_expression(filter)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(forward)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .consistent_read(index.is_none())
    }

    async fn batch_delete(&self, keys: Vec<Item>) -> PortResult<()> {
        for batch in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = Vec::new();
            for key in batch {
                requests.push(
                    WriteRequest::builder()
                        .delete_request(built(
                            DeleteRequest::builder().set_key(Some(key.clone())).build(),
                        )?)
                        .build(),
                );
            }
            let mut tries = 0;
            while !requests.is_empty() {
                tries += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    if tries >= 8 {
                        return Err(PortError::Unavailable(
                            "DynamoDB kept refusing deletes".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << tries)).await;
                }
            }
        }
        Ok(())
    }
}

/// The key condition of the `kept` index's partition `group` after the
/// sort key `after` (from its start without one).
fn kept_after(expr: &mut Expr, group: String, after: Option<String>) -> String {
    let k = expr.name("kept_in");
    let kv = expr.value("kept", s(group));
    match after {
        None => format!("{k} = {kv}"),
        Some(after) => format!(
            "{k} = {kv} AND {} > {}",
            expr.name("kept_order"),
            expr.value("after", s(after))
        ),
    }
}

/// What a file weighs in its owner's usage: its bytes unless it is being
/// deleted, one file if it is current, and its bytes again in the trash's
/// or the versions' share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Weight {
    bytes: i64,
    files: i64,
    trash: i64,
    versions: i64,
}

impl Weight {
    fn of(file: &FileRecord) -> PortResult<Self> {
        if file.status == FileStatus::Deleting {
            return Ok(Self::default());
        }
        let size = i64::try_from(file.size)
            .map_err(|_| PortError::Invalid(format!("size {} is too large", file.size)))?;
        Ok(match file.status {
            FileStatus::Deleting => Self::default(),
            FileStatus::Uploading | FileStatus::Available => Self {
                bytes: size,
                files: 1,
                ..Self::default()
            },
            FileStatus::Trashed => Self {
                bytes: size,
                trash: size,
                ..Self::default()
            },
            FileStatus::Version => Self {
                bytes: size,
                versions: size,
                ..Self::default()
            },
        })
    }

    /// From `self` to `to`.
    fn change_to(self, to: Self) -> Self {
        Self {
            bytes: to.bytes - self.bytes,
            files: to.files - self.files,
            trash: to.trash - self.trash,
            versions: to.versions - self.versions,
        }
    }
}

impl DynamoIndex {
    /// Whether a current file (uploading or available) is in `path` or a
    /// folder under it: a strongly consistent query of the user's files.
    async fn holds_current_files(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {} AND begins_with({}, {})",
            expr.name("pk"),
            expr.value("pk", s(user_pk(user))),
            expr.name("sk"),
            expr.value("p", s("F#"))
        );
        let st = expr.name("status");
        let mut filter = format!(
            "{st} IN ({}, {})",
            expr.value("up", s(FileStatus::Uploading.as_str())),
            expr.value("av", s(FileStatus::Available.as_str()))
        );
        if !path.is_root() {
            let f = expr.name("folder");
            filter = format!(
                "{filter} AND ({f} = {} OR begins_with({f}, {}))",
                expr.value("f", s(path.as_str())),
                expr.value("below", s(format!("{}/", path.as_str())))
            );
        }
        let found = self
            .query_items(
                self.query(None, condition, Some(filter), true, expr, 1000),
                1,
                |_| true,
            )
            .await?;
        Ok(!found.is_empty())
    }

    /// A page of a query of `index` (the key condition `condition` written
    /// with `expr`, read forward) and the cursor after it, made by `cursor`
    /// from the last item.
    async fn page_of<T>(
        &self,
        index: Option<&str>,
        condition: String,
        expr: Expr,
        limit: u32,
        parse: impl Fn(&Item) -> PortResult<T>,
        cursor: impl Fn(&Item) -> PortResult<Cursor>,
    ) -> PortResult<Page<T>> {
        let limit = clamp_limit(limit);
        let want = limit + 1;
        let mut found = self
            .query_items(
                self.query(index, condition, None, true, expr, want),
                want,
                |_| true,
            )
            .await?;
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found
                .last()
                .map(|last| cursor(last).map(|c| c.encode()))
                .transpose()?
        } else {
            None
        };
        let items = found.iter().map(parse).collect::<PortResult<Vec<_>>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Changes one of `user`'s commands while it is pending: reads it,
    /// applies `change`, and writes it back on condition that it is still
    /// pending. A command finished (the first result wins, even one
    /// finished meanwhile) or never recorded is left as it is, as the
    /// SQLite index does.
    async fn change_pending(
        &self,
        user: &UserId,
        command_id: Uuid,
        change: impl FnOnce(&mut CommandRecord) + Send,
    ) -> PortResult<()> {
        let Some(mut record) = self.command(user, command_id).await? else {
            return Ok(());
        };
        if record.status != CommandStatus::Pending {
            return Ok(());
        }
        change(&mut record);
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {}",
            expr.name("status"),
            expr.value("pending", s(CommandStatus::Pending.as_str()))
        );
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(codec::command_item(&record)?))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

#[async_trait]
impl Index for DynamoIndex {
    async fn insert_file(
        &self,
        file: &FileRecord,
        quota: Option<u64>,
        replacing: bool,
    ) -> PortResult<()> {
        let weight = Weight::of(file)?;
        let room = match quota.filter(|_| file.status != FileStatus::Deleting) {
            Some(quota) if file.size > quota => {
                return Err(PortError::QuotaExceeded(format!(
                    "storing {} more bytes would use more than {quota}",
                    file.size
                )));
            }
            Some(quota) => Some(quota - file.size),
            None => None,
        };
        let mut tx = Transaction::default();
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name("pk"));
        tx.put(
            Guard::NewFile,
            &self.table,
            file_item(file)?,
            Some((condition, expr)),
        )?;
        self.change_hold(
            &mut tx,
            &file.user,
            &file.folder,
            file.name.as_str(),
            file.file_id,
            Hold::NONE,
            Hold::of(file.status),
            !replacing,
        )?;
        self.change_usage(&mut tx, &file.user, weight, room)?;
        if file.is_current() {
            self.ensure_folders(&mut tx, &file.user, &file.folder, file.created_at)
                .await?;
        }
        self.commit(tx, Some(file)).await
    }

    async fn file(&self, user: &UserId, file_id: Uuid) -> PortResult<Option<FileRecord>> {
        self.stored_file(user, file_id).await
    }

    async fn file_by_name(
        &self,
        user: &UserId,
        folder: &FolderPath,
        name: &str,
    ) -> PortResult<Option<FileRecord>> {
        let name = ferry_protocol::path::nfc(name);
        let Some(holds) = self.get(name_key(user, folder, &name)).await? else {
            return Ok(None);
        };
        if let Some(AttributeValue::S(id)) = holds.get("avail")
            && let Ok(id) = Uuid::parse_str(id)
            && let Some(file) = self.stored_file(user, id).await?
            && file.status == FileStatus::Available
        {
            return Ok(Some(file));
        }
        let mut best: Option<FileRecord> = None;
        if let Some(AttributeValue::Ss(ids)) = holds.get("live") {
            for id in ids {
                let Ok(id) = Uuid::parse_str(id) else {
                    continue;
                };
                let Some(file) = self.stored_file(user, id).await? else {
                    continue;
                };
                if !file.is_current() {
                    continue;
                }
                let better = best.as_ref().is_none_or(|b| {
                    (
                        file.status == FileStatus::Available,
                        file.created_at,
                        std::cmp::Reverse(file.file_id),
                    ) > (
                        b.status == FileStatus::Available,
                        b.created_at,
                        std::cmp::Reverse(b.file_id),
                    )
                });
                if better {
                    best = Some(file);
                }
            }
        }
        Ok(best)
    }

    async fn update_file(&self, file: &FileRecord, expected_version: u64) -> PortResult<()> {
        if expected_version.checked_add(1) != Some(file.version) {
            return Err(PortError::Invalid(format!(
                "the new record of file {} must carry version {} + 1, not {}",
                file.file_id, expected_version, file.version
            )));
        }
        let Some(old) = self.stored_file(&file.user, file.file_id).await? else {
            return Err(PortError::NotFound(format!("file {}", file.file_id)));
        };
        if old.version != expected_version {
            return Err(PortError::Conflict(format!(
                "file {} is at version {}, not {expected_version}",
                file.file_id, old.version
            )));
        }
        let mut tx = Transaction::default();
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {}",
            expr.name("version"),
            expr.value("v", AttributeValue::N(expected_version.to_string()))
        );
        tx.put(
            Guard::Version,
            &self.table,
            file_item(file)?,
            Some((condition, expr)),
        )?;
        let same_name = old.folder == file.folder && old.name == file.name;
        if same_name {
            self.change_hold(
                &mut tx,
                &file.user,
                &file.folder,
                file.name.as_str(),
                file.file_id,
                Hold::of(old.status),
                Hold::of(file.status),
                false,
            )?;
        } else {
            self.change_hold(
                &mut tx,
                &old.user,
                &old.folder,
                old.name.as_str(),
                old.file_id,
                Hold::of(old.status),
                Hold::NONE,
                false,
            )?;
            self.change_hold(
                &mut tx,
                &file.user,
                &file.folder,
                file.name.as_str(),
                file.file_id,
                Hold::NONE,
                Hold::of(file.status),
                false,
            )?;
        }
        let change = Weight::of(&old)?.change_to(Weight::of(file)?);
        if change != Weight::default() {
            self.change_usage(&mut tx, &file.user, change, None)?;
        }
        if file.is_current() {
            self.ensure_folders(&mut tx, &file.user, &file.folder, file.updated_at)
                .await?;
        }
        self.commit(tx, Some(file)).await?;
        if !same_name || !file.is_current() {
            self.tidy_name(&old.user, &old.folder, old.name.as_str())
                .await;
        }
        Ok(())
    }

    async fn remove_file(
        &self,
        user: &UserId,
        file_id: Uuid,
        expected_version: u64,
    ) -> PortResult<bool> {
        let Some(old) = self.stored_file(user, file_id).await? else {
            return Ok(false);
        };
        if old.version != expected_version {
            return Err(PortError::Conflict(format!(
                "file {file_id} is at version {}, not {expected_version}",
                old.version
            )));
        }
        let mut tx = Transaction::default();
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {}",
            expr.name("version"),
            expr.value("v", AttributeValue::N(expected_version.to_string()))
        );
        tx.delete(
            Guard::Version,
            &self.table,
            file_key(user, file_id),
            Some((condition, expr)),
        )?;
        self.change_hold(
            &mut tx,
            user,
            &old.folder,
            old.name.as_str(),
            file_id,
            Hold::of(old.status),
            Hold::NONE,
            false,
        )?;
        let change = Weight::of(&old)?.change_to(Weight::default());
        if change != Weight::default() {
            self.change_usage(&mut tx, user, change, None)?;
        }
        self.commit(tx, Some(&old)).await?;
        self.tidy_name(user, &old.folder, old.name.as_str()).await;
        Ok(true)
    }

    async fn list_folder(&self, user: &UserId, query: &ListQuery) -> PortResult<Page<Entry>> {
        let limit = clamp_limit(query.limit);
        let (sort, descending) = (query.sort, query.descending);
        let after = match query.cursor.as_deref().map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::List { o, d, k }) if o == sort && d == descending => {
                let ok = k.starts_with('D')
                    || (sort == SortKey::Name && k.starts_with('F'))
                    || (sort != SortKey::Name && k.starts_with(|c: char| c.is_ascii_digit()));
                if !ok {
                    return Err(codec::invalid_cursor("doesn't match its order"));
                }
                Some(k)
            }
            Some(Cursor::List { .. }) => {
                return Err(codec::invalid_cursor("belongs to another order"));
            }
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let dir = codec::dir_key(user, &query.folder);
        let want = limit + 1;
        let mut items: Vec<Entry> = Vec::new();
        let in_folders = after.as_deref().is_none_or(|k| k.starts_with('D'));
        if in_folders {
            let mut expr = Expr::default();
            let (d, n) = (expr.name("dir"), expr.name("by_name"));
            let dv = expr.value("dir", s(dir.clone()));
            let condition = match (&after, descending) {
                (None, _) => format!(
                    "{d} = {dv} AND begins_with({n}, {})",
                    expr.value("p", s("D"))
                ),
                (Some(k), false) => format!(
                    "{d} = {dv} AND {n} BETWEEN {} AND {}",
                    expr.value("lo", s(format!("{k}\u{1}"))),
                    expr.value("hi", s("E"))
                ),
                (Some(k), true) => {
                    format!("{d} = {dv} AND {n} < {}", expr.value("k", s(k.clone())))
                }
            };
            let found = self
                .query_items(
                    self.query(Some(table::FOLDER_NAME), condition, None, !descending, expr, want),
                    want,
                    |item| matches!(item.get("by_name"), Some(AttributeValue::S(k)) if k.starts_with('D')),
                )
                .await?;
            for item in found {
                items.push(Entry::Folder(codec::folder_from_item(&item)?));
            }
        }
        if items.len() < want {
            let (index, attr) = match sort {
                SortKey::Name => (table::FOLDER_NAME, "by_name"),
                SortKey::Size => (table::FOLDER_SIZE, "by_size"),
                SortKey::Modified => (table::FOLDER_TIME, "by_time"),
            };
            let mut expr = Expr::default();
            let d = expr.name("dir");
            let dv = expr.value("dir", s(dir));
            let file_after = after.filter(|k| !k.starts_with('D'));
            let condition = match (&file_after, sort, descending) {
                (None, SortKey::Name, _) => format!(
                    "{d} = {dv} AND begins_with({}, {})",
                    expr.name(attr),
                    expr.value("p", s("F"))
                ),
                (None, _, _) => format!("{d} = {dv}"),
                (Some(k), _, false) => format!(
                    "{d} = {dv} AND {} > {}",
                    expr.name(attr),
                    expr.value("k", s(k.clone()))
                ),
                (Some(k), _, true) => format!(
                    "{d} = {dv} AND {} < {}",
                    expr.name(attr),
                    expr.value("k", s(k.clone()))
                ),
            };
            let need = want - items.len();
            let found = self
                .query_items(
                    self.query(Some(index), condition, None, !descending, expr, need),
                    need,
                    |item| matches!(item.get("sk"), Some(AttributeValue::S(k)) if k.starts_with("F#")),
                )
                .await?;
            for item in found {
                items.push(Entry::File(file_from_item(&item)?));
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| {
                Cursor::List {
                    o: sort,
                    d: descending,
                    k: match last {
                        Entry::Folder(folder) => {
                            format!("D{}", folder.path.name().unwrap_or_default())
                        }
                        Entry::File(file) => sort_key_of(file, sort),
                    },
                }
                .encode()
            })
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn search(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let limit = clamp_limit(limit);
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Search { k }) if k.starts_with('F') => Some(k),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let o = expr.name("owner");
        let ov = expr.value("owner", s(user.as_str()));
        let condition = match &after {
            None => format!("{o} = {ov}"),
            Some(k) => format!(
                "{o} = {ov} AND {} > {}",
                expr.name("by_name"),
                expr.value("k", s(k.clone()))
            ),
        };
        let folded = fold(text);
        let filter = (!folded.is_empty()).then(|| {
            format!(
                "contains({}, {})",
                expr.name("nf"),
                expr.value("t", s(folded.clone()))
            )
        });
        let want = limit + 1;
        let found = self
            .query_items(
                self.query(Some(table::SEARCH), condition, filter, true, expr, 1000),
                want,
                |_| true,
            )
            .await?;
        let mut items = found
            .iter()
            .map(file_from_item)
            .collect::<PortResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| {
                Cursor::Search {
                    k: by_name_of_file(last),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn files_under(
        &self,
        user: &UserId,
        folder: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let limit = clamp_limit(limit);
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Under { i }) => Some(i),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let (pk, sk) = (expr.name("pk"), expr.name("sk"));
        let pv = expr.value("pk", s(user_pk(user)));
        let condition = match after {
            None => format!(
                "{pk} = {pv} AND begins_with({sk}, {})",
                expr.value("p", s("F#"))
            ),
            Some(id) => format!(
                "{pk} = {pv} AND {sk} BETWEEN {} AND {}",
                expr.value("lo", s(format!("F#{id}\u{1}"))),
                expr.value("hi", s("F$"))
            ),
        };
        let filter = (!folder.is_root()).then(|| {
            let f = expr.name("folder");
            format!(
                "{f} = {} OR begins_with({f}, {})",
                expr.value("f", s(folder.as_str())),
                expr.value("below", s(format!("{}/", folder.as_str())))
            )
        });
        let want = limit + 1;
        let found = self
            .query_items(
                self.query(None, condition, filter, true, expr, 1000),
                want,
                |_| true,
            )
            .await?;
        let mut items = found
            .iter()
            .map(file_from_item)
            .collect::<PortResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|last| Cursor::Under { i: last.file_id }.encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn files_with_status(
        &self,
        status: FileStatus,
        before: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<FileRecord>> {
        if status == FileStatus::Available {
            return Err(PortError::Invalid(
                "the DynamoDB index keeps only uploading and deleting files by change time".into(),
            ));
        }
        let limit = clamp_limit(limit);
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {} AND {} < {}",
            expr.name("stale"),
            expr.value("s", s(status.as_str())),
            expr.name("stale_at"),
            expr.value("t", s(ordered_time(before)?))
        );
        let found = self
            .query_items(
                self.query(Some(table::SWEEP), condition, None, true, expr, limit),
                limit,
                |_| true,
            )
            .await?;
        found.iter().map(file_from_item).collect()
    }

    async fn users(&self, after: Option<&UserId>, limit: u32) -> PortResult<Vec<UserId>> {
        let limit = clamp_limit(limit);
        let mut expr = Expr::default();
        let users = expr.name("users");
        let uv = expr.value("users", s(table::USERS));
        let condition = match after {
            None => format!("{users} = {uv}"),
            Some(after) => format!(
                "{users} = {uv} AND {} > {}",
                expr.name("user_sub"),
                expr.value("a", s(after.as_str()))
            ),
        };
        let found = self
            .query_items(
                self.query(Some(table::USERS_INDEX), condition, None, true, expr, limit),
                limit,
                |_| true,
            )
            .await?;
        found
            .iter()
            .map(|item| match item.get("user_sub") {
                Some(AttributeValue::S(sub)) => {
                    UserId::parse(sub).ok_or_else(|| codec::corrupt(format!("user `{sub}`")))
                }
                _ => Err(codec::corrupt("a user item without its sub".into())),
            })
            .collect()
    }

    async fn create_folder(
        &self,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<bool> {
        if path.is_root() {
            return Ok(false);
        }
        let mut tx = Transaction::default();
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name("pk"));
        tx.put(
            Guard::NewFolder,
            &self.table,
            codec::folder_item(user, path, at)?,
            Some((condition, expr)),
        )?;
        self.change_usage(&mut tx, user, Weight::default(), None)?;
        if let Some(parent) = path.parent() {
            self.ensure_folders(&mut tx, user, &parent, at).await?;
        }
        match self.commit(tx, None).await {
            Ok(()) => Ok(true),
            Err(PortError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn folder_exists(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        if path.is_root() {
            return Ok(true);
        }
        Ok(self.get(folder_key(user, path)).await?.is_some())
    }

    async fn remove_folder_tree(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        if !self.folder_exists(user, path).await? {
            return Ok(false);
        }
        if self.holds_current_files(user, path).await? {
            return Err(PortError::Conflict(format!("{path} still holds files")));
        }
        let mut expr = Expr::default();
        let (pk, sk) = (expr.name("pk"), expr.name("sk"));
        let pv = expr.value("pk", s(user_pk(user)));
        let prefix = if path.is_root() {
            "D#".to_owned()
        } else {
            format!("D#{}", path.as_str())
        };
        let condition = format!(
            "{pk} = {pv} AND begins_with({sk}, {})",
            expr.value("p", s(prefix))
        );
        let own = path.as_str().to_owned();
        let below = format!("{own}/");
        let found = self
            .query_items(
                self.query(None, condition, None, true, expr, 1000),
                usize::MAX,
                |item| match item.get("path") {
                    Some(AttributeValue::S(p)) => {
                        path.is_root() || *p == own || p.starts_with(&below)
                    }
                    _ => false,
                },
            )
            .await?;
        let keys = found
            .into_iter()
            .filter_map(|item| Some(key(item.get("pk")?.clone(), item.get("sk")?.clone())))
            .collect();
        self.batch_delete(keys).await?;
        Ok(true)
    }

    async fn usage(&self, user: &UserId) -> PortResult<Usage> {
        let Some(item) = self.get(user_key(user)).await? else {
            return Ok(Usage::default());
        };
        let optional = |attr: &str| {
            if item.contains_key(attr) {
                codec::get_u64(&item, attr)
            } else {
                Ok(0)
            }
        };
        Ok(Usage {
            bytes: codec::get_u64(&item, "bytes")?,
            files: codec::get_u64(&item, "files")?,
            trash_bytes: optional("trash_bytes")?,
            version_bytes: optional("version_bytes")?,
        })
    }

    async fn folders_under(
        &self,
        user: &UserId,
        path: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FolderPath>> {
        // Folder items' keys are `D#{path}`: the folders under `a` are the
        // keys from `D#a/` to `D#a0` ('0' follows '/'), in path order.
        let (prefix, end) = if path.is_root() {
            ("D#".to_owned(), "D$".to_owned())
        } else {
            (
                format!("D#{}/", path.as_str()),
                format!("D#{}0", path.as_str()),
            )
        };
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Folders { p }) if format!("D#{p}").starts_with(&prefix) => Some(p),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let (pk, sk) = (expr.name("pk"), expr.name("sk"));
        let pv = expr.value("pk", s(user_pk(user)));
        let condition = match after {
            None => format!(
                "{pk} = {pv} AND begins_with({sk}, {})",
                expr.value("p", s(prefix))
            ),
            Some(p) => format!(
                "{pk} = {pv} AND {sk} BETWEEN {} AND {}",
                expr.value("lo", s(format!("D#{p}\u{1}"))),
                expr.value("hi", s(end))
            ),
        };
        let path_of = |item: &Item| match item.get("path") {
            Some(AttributeValue::S(p)) => Ok(p.clone()),
            _ => Err(codec::corrupt("a folder without its path".into())),
        };
        self.page_of(
            None,
            condition,
            expr,
            limit,
            |item| {
                let p = path_of(item)?;
                FolderPath::parse(&p).map_err(|e| codec::corrupt(format!("folder `{p}`: {e}")))
            },
            |item| Ok(Cursor::Folders { p: path_of(item)? }),
        )
        .await
    }

    async fn put_trash(&self, item: &TrashItem) -> PortResult<()> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name("pk"));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(codec::trash_item_item(item)?))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Recorded already: a retry leaves it as it is.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn trash_item(&self, user: &UserId, trash_id: Uuid) -> PortResult<Option<TrashItem>> {
        self.get(codec::trash_key(user, trash_id))
            .await?
            .map(|item| codec::trash_item_from_item(&item))
            .transpose()
    }

    async fn list_trash(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<TrashItem>> {
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Trash { k }) => Some(k),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let condition = kept_after(&mut expr, codec::kept_trash(user), after);
        self.page_of(
            Some(table::KEPT),
            condition,
            expr,
            limit,
            codec::trash_item_from_item,
            |item| {
                Ok(Cursor::Trash {
                    k: codec::trash_order(&codec::trash_item_from_item(item)?),
                })
            },
        )
        .await
    }

    async fn remove_trash(&self, user: &UserId, trash_id: Uuid) -> PortResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(codec::trash_key(user, trash_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn trash_before(&self, before: Timestamp, limit: u32) -> PortResult<Vec<TrashItem>> {
        let limit = clamp_limit(limit);
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {} AND {} < {}",
            expr.name("stale"),
            expr.value("s", s(codec::TRASH_SWEEP)),
            expr.name("stale_at"),
            expr.value("t", s(ordered_time(before)?))
        );
        let found = self
            .query_items(
                self.query(Some(table::SWEEP), condition, None, true, expr, limit),
                limit,
                |_| true,
            )
            .await?;
        found.iter().map(codec::trash_item_from_item).collect()
    }

    async fn trashed_files(
        &self,
        user: &UserId,
        trash_id: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Trashed { t, i }) if t == trash_id => Some(i),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let condition = kept_after(
            &mut expr,
            codec::kept_trashed(user, trash_id),
            after.map(|i| i.to_string()),
        );
        self.page_of(
            Some(table::KEPT),
            condition,
            expr,
            limit,
            file_from_item,
            |item| {
                Ok(Cursor::Trashed {
                    t: trash_id,
                    i: file_from_item(item)?.file_id,
                })
            },
        )
        .await
    }

    async fn versions(
        &self,
        user: &UserId,
        lineage: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let after = match cursor.map(Cursor::decode).transpose()? {
            None => None,
            Some(Cursor::Versions { l, k }) if l == lineage => Some(k),
            Some(_) => return Err(codec::invalid_cursor("belongs to another query")),
        };
        let mut expr = Expr::default();
        let condition = kept_after(&mut expr, codec::kept_versions(user, lineage), after);
        self.page_of(
            Some(table::KEPT),
            condition,
            expr,
            limit,
            file_from_item,
            |item| {
                Ok(Cursor::Versions {
                    l: lineage,
                    k: codec::version_order(&file_from_item(item)?),
                })
            },
        )
        .await
    }

    async fn put_command(&self, command: &CommandRecord) -> PortResult<PutCommand> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name("pk"));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(codec::command_item(command)?))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutCommand::Inserted),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let existing = self
                    .command(&command.user, command.command_id)
                    .await?
                    .ok_or_else(|| codec::corrupt("a command vanished".into()))?;
                Ok(PutCommand::Existing(Box::new(existing)))
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn command(&self, user: &UserId, command_id: Uuid) -> PortResult<Option<CommandRecord>> {
        self.get(codec::command_key(user, command_id))
            .await?
            .map(|item| codec::command_from_item(&item))
            .transpose()
    }

    async fn finish_command(
        &self,
        user: &UserId,
        command_id: Uuid,
        status: CommandStatus,
        result: &serde_json::Value,
        at: Timestamp,
    ) -> PortResult<()> {
        if status == CommandStatus::Pending {
            return Err(PortError::Invalid(
                "a command can't be finished as pending".to_owned(),
            ));
        }
        self.change_pending(user, command_id, |record| {
            record.status = status;
            record.result = Some(result.clone());
            record.finished_at = Some(at);
        })
        .await
    }

    async fn note_progress(
        &self,
        user: &UserId,
        command_id: Uuid,
        progress: &serde_json::Value,
    ) -> PortResult<()> {
        self.change_pending(user, command_id, |record| {
            record.progress = Some(progress.clone());
        })
        .await
    }

    async fn was_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
    ) -> PortResult<bool> {
        Ok(self
            .get(codec::processed_key(consumer, user, event_id))
            .await?
            .is_some())
    }

    async fn mark_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
        at: Timestamp,
    ) -> PortResult<()> {
        let mut item = codec::processed_key(consumer, user, event_id);
        let expires = at.get().unix_timestamp() + PROCESSED_TTL_SECONDS;
        item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
