//! The port's derived objects on the local store (issue 20): a thumbnail
//! written with its type is announced on the bus like any object (its key
//! tells the consumers it is no file) and served with that type; a read
//! gives the bytes within its cap, refuses a larger object unread, and says
//! when there is none.

#![allow(clippy::unwrap_used)]

mod common;

use ferry_core::ports::{ObjectRead, ObjectStore};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_object_is_announced_served_with_its_type_and_read_within_its_cap() {
    let stack = common::start().await;
    let key = "users/ann/thumbs/00000000-0000-0000-0000-000000000007/small";
    let bytes = common::bytes_of(5000, 7);
    stack
        .store
        .put_derived(key, bytes.clone(), "image/png")
        .await
        .unwrap();
    let announced = stack.bus.take();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].detail_type, "Object Created");
    assert_eq!(announced[0].detail["object"]["key"], key);

    assert_eq!(
        stack.store.read(key, 5000).await.unwrap(),
        ObjectRead::Bytes(bytes.clone())
    );
    assert_eq!(
        stack.store.read(key, 4999).await.unwrap(),
        ObjectRead::TooLarge { size: 5000 }
    );
    assert_eq!(
        stack.store.read("users/ann/none", 10).await.unwrap(),
        ObjectRead::Missing
    );

    let get = stack
        .store
        .presign_get(
            key,
            "photo.png",
            "image/png",
            stack.now(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    let reply = stack.send("GET", &get.url, &[], Vec::new()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(reply.body, bytes);
}
