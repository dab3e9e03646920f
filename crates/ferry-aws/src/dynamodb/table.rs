//! The index table's definition: its keys and global secondary indexes.
//! [`create`] makes it (tests against a stand-in); [`template_yaml`] is the
//! same definition as the SAM template must write it, which a test checks.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use ferry_core::ports::{PortError, PortResult};

/// A folder's sub-folders (`D…`) then files (`F…`), by name.
pub const FOLDER_NAME: &str = "folder-name";
/// A folder's files by size, then name.
pub const FOLDER_SIZE: &str = "folder-size";
/// A folder's files by last change, then name.
pub const FOLDER_TIME: &str = "folder-time";
/// A user's files by name, for search.
pub const SEARCH: &str = "search";
/// What the sweep looks for, by time: files by status (all but available
/// ones) and last change, and trash items by when they were deleted.
pub const SWEEP: &str = "sweep";
/// What the trash and versions keep, a partition per group: a user's trash
/// items (the most recently deleted first), one trash item's files (by
/// id), one lineage's versions (the most recently created first). One
/// index, not three: CloudFormation adds at most one index to a table per
/// stack update.
pub const KEPT: &str = "kept";
/// Every user with files or folders (keys only).
pub const USERS_INDEX: &str = "users";
/// The users index's one partition.
pub const USERS: &str = "USERS";

/// One global secondary index: name, hash and range attributes, whether it
/// projects every attribute (else keys only).
#[derive(Debug, Clone, Copy)]
pub struct IndexDef {
    /// Its name.
    pub name: &'static str,
    /// Its partition key attribute.
    pub hash: &'static str,
    /// Its sort key attribute.
    pub range: &'static str,
    /// Every attribute (else keys only).
    pub all: bool,
}

/// The table's global secondary indexes.
pub const INDEXES: [IndexDef; 7] = [
    IndexDef {
        name: FOLDER_NAME,
        hash: "dir",
        range: "by_name",
        all: true,
    },
    IndexDef {
        name: FOLDER_SIZE,
        hash: "dir",
        range: "by_size",
        all: true,
    },
    IndexDef {
        name: FOLDER_TIME,
        hash: "dir",
        range: "by_time",
        all: true,
    },
    IndexDef {
        name: SEARCH,
        hash: "owner",
        range: "by_name",
        all: true,
    },
    IndexDef {
        name: SWEEP,
        hash: "stale",
        range: "stale_at",
        all: true,
    },
    IndexDef {
        name: USERS_INDEX,
        hash: "users",
        range: "user_sub",
        all: false,
    },
    IndexDef {
        name: KEPT,
        hash: "kept_in",
        range: "kept_order",
        all: true,
    },
];

/// Every key attribute (all strings), the table's own first.
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec!["pk", "sk"];
    for index in INDEXES {
        for name in [index.hash, index.range] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The definition as the SAM template's `FilesTable` writes it, from
/// `AttributeDefinitions:` to the last index's projection.
pub fn template_yaml() -> String {
    let mut yaml = String::from("      AttributeDefinitions:\n");
    for name in key_attributes() {
        yaml.push_str(&format!(
            "        - AttributeName: {name}\n          AttributeType: S\n"
        ));
    }
    yaml.push_str(
        "      KeySchema:\n        - AttributeName: pk\n          KeyType: HASH\n        - AttributeName: sk\n          KeyType: RANGE\n      GlobalSecondaryIndexes:\n",
    );
    for index in INDEXES {
        yaml.push_str(&format!(
            "        - IndexName: {}\n          KeySchema:\n            - AttributeName: {}\n              KeyType: HASH\n            - AttributeName: {}\n              KeyType: RANGE\n          Projection:\n            ProjectionType: {}\n",
            index.name,
            index.hash,
            index.range,
            if index.all { "ALL" } else { "KEYS_ONLY" }
        ));
    }
    yaml
}

fn key(name: &str, kind: KeyType) -> PortResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| PortError::Other(format!("table definition: {e}")))
}

/// Creates the table, on demand, as the template does.
pub async fn create(client: &Client, table: &str) -> PortResult<()> {
    let fail = |e: String| PortError::Other(format!("table definition: {e}"));
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?);
    for name in key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| fail(e.to_string()))?,
        );
    }
    for index in INDEXES {
        let projection = Projection::builder()
            .projection_type(if index.all {
                ProjectionType::All
            } else {
                ProjectionType::KeysOnly
            })
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash, KeyType::Hash)?)
                .key_schema(key(index.range, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(|e| fail(e.to_string()))?,
        );
    }
    request.send().await.map_err(|e| {
        PortError::Unavailable(format!(
            "DynamoDB CreateTable: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        ))
    })?;
    Ok(())
}
