//! The DynamoDB index against moto's server mode: the port's whole contract
//! (`ferry_core::conformance`, the tests the SQLite index passes too), and
//! the SAM template's table is the one the adapter is written for.

#![allow(clippy::unwrap_used)]

mod common;

use common::{settings, start_moto};
use ferry_aws::DynamoIndex;
use ferry_core::ports::Index;
use std::sync::Arc;

ferry_core::index_conformance_tests!({
    let moto = start_moto();
    let index = DynamoIndex::new(&settings(&moto), "ferry-files");
    index.create_table().await.unwrap();
    (Arc::new(index) as Arc<dyn Index>, moto)
});

#[test]
fn the_template_creates_the_table_the_adapter_reads() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/aws/template.yaml"
    ))
    .unwrap();
    let at = template.find("\n  FilesTable:\n").expect("FilesTable");
    let table = &template[at..];
    let expected = ferry_aws::dynamodb::table::template_yaml();
    assert!(
        table.contains(&expected),
        "the template's FilesTable differs from ferry_aws::dynamodb::table; it should read:\n{expected}"
    );
}
