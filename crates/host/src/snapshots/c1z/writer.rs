//! A snapshot written as a c1z file: baton's tables filled in one transaction, compressed into one
//! zstd frame with its content size.

use std::path::Path;

use prost::Message;
use rusqlite::{Connection, params};
use serde_json::json;

use super::framing::{MAGIC, failed};
use super::ksuid::sync_id;
use super::mapping::{entitlement_message, resource_id, resource_message, trait_of};
use super::times::baton_time;
use crate::baton;
use crate::error::Result;
use crate::snapshot::Snapshot;

/// The tables and indexes of a c1z database: baton's `v1_*` tables as baton-sdk creates them, and
/// `connector_host_snapshot`.
pub const SCHEMA: &str = include_str!("schema.sql");

/// The snapshot as a c1z file's bytes.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>> {
    let database = database(snapshot)?;
    let mut bytes = MAGIC.to_vec();
    // One frame; bulk compression records the content size in the frame header.
    let frame = zstd::bulk::compress(&database, 3).map_err(|e| failed("compress", e))?;
    bytes.extend_from_slice(&frame);
    Ok(bytes)
}

/// The snapshot as baton's SQLite database, serialized.
pub fn database(snapshot: &Snapshot) -> Result<Vec<u8>> {
    let db = Connection::open_in_memory().map_err(|e| failed("make", e))?;
    fill(&db, snapshot)?;
    let data = db.serialize(rusqlite::MAIN_DB).map_err(|e| failed("serialize", e))?;
    Ok(data.to_vec())
}

/// Writes baton's tables and the snapshot's rows into `db`, in one transaction.
fn fill(db: &Connection, snapshot: &Snapshot) -> Result<()> {
    let sql = |e: rusqlite::Error| failed("write", e);
    db.execute_batch(SCHEMA).map_err(sql)?;
    let sync = sync_id(snapshot);
    let at = baton_time(&snapshot.finished_at);
    let transaction = db.unchecked_transaction().map_err(sql)?;
    {
        let mut insert = transaction
            .prepare("insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        for record in &snapshot.resource_types {
            let message = baton::ResourceType {
                id: record.id.clone(),
                display_name: record.display_name.clone(),
                traits: trait_of(record.identity).map(|t| t as i32).into_iter().collect(),
                ..Default::default()
            };
            insert.execute(params![record.id, message.encode_to_vec(), sync, at]).map_err(sql)?;
        }
        let mut insert = transaction
            .prepare("insert into v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5)")
            .map_err(sql)?;
        for record in &snapshot.resources {
            let external = format!("{}:{}", record.resource_type, record.id);
            let message = resource_message(record, snapshot.resource_type(&record.resource_type));
            insert.execute(params![record.resource_type, external, message.encode_to_vec(), sync, at]).map_err(sql)?;
        }
        let names: std::collections::HashMap<(&str, &str), &str> =
            snapshot.resources.iter().map(|r| ((r.resource_type.as_str(), r.id.as_str()), r.display_name.as_str())).collect();
        let mut insert = transaction
            .prepare("insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(sql)?;
        let mut entitlements = std::collections::HashMap::new();
        for record in &snapshot.entitlements {
            let display = names.get(&(record.resource.resource_type.as_str(), record.resource.id.as_str())).copied().unwrap_or_default();
            let message = entitlement_message(record, display);
            insert
                .execute(params![record.resource.resource_type, record.resource.id, record.id, message.encode_to_vec(), sync, at])
                .map_err(sql)?;
            entitlements.insert(record.id.as_str(), message);
        }
        let mut insert = transaction
            .prepare(
                "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id,
                 external_id, expansion, needs_expansion, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(sql)?;
        for record in &snapshot.grants {
            let entitlement = entitlements
                .get(record.entitlement.as_str())
                .cloned()
                .unwrap_or_else(|| baton::Entitlement { id: record.entitlement.clone(), ..Default::default() });
            let (resource_type, resource) = entitlement
                .resource
                .as_ref()
                .and_then(|r| r.id.as_ref())
                .map(|id| (id.resource_type.clone(), id.resource.clone()))
                .unwrap_or_default();
            let principal = baton::Resource {
                id: Some(resource_id(&record.principal)),
                display_name: names
                    .get(&(record.principal.resource_type.as_str(), record.principal.id.as_str()))
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                ..Default::default()
            };
            let message =
                baton::Grant { entitlement: Some(entitlement), principal: Some(principal), id: record.id.clone(), annotations: Vec::new() };
            let expansion = (!record.expandable.is_empty())
                .then(|| baton::GrantExpandable { entitlement_ids: record.expandable.clone(), ..Default::default() }.encode_to_vec());
            insert
                .execute(params![
                    resource_type,
                    resource,
                    record.entitlement,
                    record.principal.resource_type,
                    record.principal.id,
                    record.id,
                    expansion,
                    i64::from(expansion.is_some()),
                    message.encode_to_vec(),
                    sync,
                    at
                ])
                .map_err(sql)?;
        }
        let stats = json!({
            "resource_types": snapshot.resource_types.len(),
            "resources": snapshot.resources.len(),
            "entitlements": snapshot.entitlements.len(),
            "grants": snapshot.grants.len(),
        });
        transaction
            .execute(
                "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, supports_diff, grants_backfilled, stats)
                 values (?1, ?2, ?3, '', 'full', 1, 1, ?4)",
                params![sync, baton_time(&snapshot.started_at), at, stats.to_string()],
            )
            .map_err(sql)?;
        let meta = [
            ("format", snapshot.format.clone()),
            ("connector", serde_json::to_string(&snapshot.connector).unwrap_or_default()),
            ("tenant", snapshot.tenant.clone()),
            ("started_at", snapshot.started_at.clone()),
            ("finished_at", snapshot.finished_at.clone()),
            ("stats", serde_json::to_string(&snapshot.stats).unwrap_or_default()),
            ("resource_types", serde_json::to_string(&snapshot.resource_types).unwrap_or_default()),
            ("sync_id", sync.clone()),
        ];
        for (key, value) in meta {
            transaction.execute("insert into connector_host_snapshot (key, value) values (?1, ?2)", params![key, value]).map_err(sql)?;
        }
    }
    transaction.commit().map_err(sql)
}

/// Writes the snapshot as a c1z file, atomically (see [`crate::files::write_atomic`]). The
/// database is built in a working file beside the output and streamed through the compressor,
/// so that a large account's c1z costs little memory beyond the snapshot itself.
pub fn write(snapshot: &Snapshot, path: &Path) -> Result<()> {
    let scratch = crate::files::Scratch::beside(path, "c1z-db", "--out")?;
    {
        let db = Connection::open(scratch.path()).map_err(|e| failed("make", e))?;
        // A working file: no journal beside it, nothing to make durable until the output is.
        db.execute_batch("pragma journal_mode = off; pragma synchronous = off;").map_err(|e| failed("make", e))?;
        fill(&db, snapshot)?;
        db.close().map_err(|(_, e)| failed("close", e))?;
    }
    let size = std::fs::metadata(scratch.path()).map_err(|e| failed("read", e))?.len();
    let mut database = std::fs::File::open(scratch.path()).map_err(|e| failed("read", e))?;
    crate::files::write_atomic(path, "snapshot file", |writer| {
        writer.write_all(MAGIC)?;
        let mut encoder = zstd::stream::write::Encoder::new(writer, 3)?;
        encoder.include_contentsize(true)?;
        encoder.set_pledged_src_size(Some(size))?;
        std::io::copy(&mut database, &mut encoder)?;
        encoder.finish()?;
        Ok(())
    })
}
