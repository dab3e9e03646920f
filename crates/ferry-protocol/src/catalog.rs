//! The catalogue of what Ferry publishes: every command and event version
//! (whole envelopes) and every host-event `detail`, with their schemas.
//! It sits above the messages, the host events and the schema machinery,
//! which know nothing of each other's lists.

use crate::schema::{Kind, canonical, envelope_schema};
use serde_json::{Map, Value, json};

/// Every published message: kind, name, version and its schema — a whole
/// `{metadata, data}` envelope for a command or an event (the name is its
/// `Action`), the `detail` alone for a host event (the name is the DOM
/// event's, e.g. `ferry-navigate`), a live-connection message alone (the
/// name says its direction and tag, e.g. `server-event`).
pub fn published() -> Vec<(Kind, &'static str, u32, Value)> {
    let commands = crate::Command::body_schemas()
        .into_iter()
        .map(|(a, v, body)| (Kind::Command, a, v, body));
    let events = crate::Event::body_schemas()
        .into_iter()
        .map(|(a, v, body)| (Kind::Event, a, v, body));
    commands
        .chain(events)
        .map(|(kind, action, version, body)| {
            (
                kind,
                action,
                version,
                envelope_schema(kind, action, version, body),
            )
        })
        .chain(
            crate::host::detail_schemas()
                .into_iter()
                .map(|(name, version, detail)| (Kind::HostEvent, name, version, detail)),
        )
        .chain(
            crate::live::message_schemas()
                .into_iter()
                .map(|(name, version, schema)| (Kind::Live, name, version, schema)),
        )
        .collect()
}

/// The schemas of the file API's bodies, keyed by name, as the OpenAPI
/// document's `components.schemas` holds them (`$ref`s point at
/// `#/components/schemas/…`). `CommandEnvelope` and `EventEnvelope` are
/// `oneOf` the published envelope schemas, each keeping its own `$id`.
pub fn api_components() -> Value {
    use crate::api::*;
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    macro_rules! add {
        ($($t:ty),* $(,)?) => {{
            $( generator.subschema_for::<$t>(); )*
            Map::new()
        }};
    }
    let mut components = add!(
        FileView,
        FolderView,
        EntryView,
        ListResponse,
        SearchResponse,
        PresignedRequest,
        PartUpload,
        UploadInstructions,
        CreateFileResponse,
        Accepted,
        UploadResponse,
        BatchRequest,
        BatchResponse,
        BatchResult,
        PresignPartsRequest,
        PartsResponse,
        UploadedPartsResponse,
        DownloadResponse,
        PreviewResponse,
        CommandView,
        UsageView,
        TrashItemView,
        TrashPage,
        VersionsPage,
        FeedPage,
        ThumbnailsRequest,
        ThumbnailsResponse,
        crate::ApiError,
    );
    for (name, schema) in generator.take_definitions(true) {
        components.entry(name).or_insert_with(|| strip_root(schema));
    }
    let envelopes = |kind: Kind| -> Value {
        let one_of: Vec<Value> = published()
            .into_iter()
            .filter(|(k, ..)| *k == kind)
            .map(|(.., mut schema)| {
                if let Some(object) = schema.as_object_mut() {
                    object.remove("$schema");
                }
                schema
            })
            .collect();
        json!({"oneOf": one_of})
    };
    let mut commands = envelopes(Kind::Command);
    commands["description"] =
        json!("A command in its `{metadata, data}` envelope; `data.Action` picks its schema.");
    let mut events = envelopes(Kind::Event);
    events["description"] =
        json!("An event in its `{metadata, data}` envelope; `data.Action` picks its schema.");
    components.insert("CommandEnvelope".into(), commands);
    components.insert("EventEnvelope".into(), events);
    canonical(Value::Object(components))
}

fn strip_root(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("$defs");
    }
    schema
}
