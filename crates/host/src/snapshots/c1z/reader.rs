//! A c1z file read back as a snapshot: a finished full sync run (or the one asked for), its rows
//! decoded, what our own table kept restored.

use std::io::Read;
use std::path::Path;

use prost::Message;
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::framing::unpack;
use super::mapping::{identity_of, purpose_from, traits_of};
use super::times::rfc3339_of;
use crate::baton;
use crate::error::{HostError, Result};
use crate::snapshot::{
    ConnectorInfo, EntitlementRecord, FORMAT, GrantRecord, ResourceKey, ResourceRecord, ResourceTypeRecord, Snapshot, Stats,
};

/// A row's message, and for a grant its expansion.
type Row = (Vec<u8>, Option<Vec<u8>>);

/// Reads a c1z file's latest finished full sync back as a snapshot.
pub fn decode(bytes: &[u8], name: &str) -> Result<Snapshot> {
    read_run(bytes, name, None)
}

/// Reads the c1z file at `path`: its latest finished full sync, or the run `sync_id`.
pub fn read(path: &Path, sync_id: Option<&str>) -> Result<Snapshot> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| HostError::usage(format!("cannot read snapshot {name}: {e}")))?;
    read_run(std::io::BufReader::new(file), &name, sync_id)
}

/// Reads the run `sync_id` (else the latest finished full sync) of the c1z file `reader` gives.
pub(crate) fn read_run(reader: impl Read, name: &str, sync_id: Option<&str>) -> Result<Snapshot> {
    let unpacked = unpack(reader, name)?;
    let db = unpacked.open()?;
    // A file that is not a database is an error here, not a panic later.
    db.query_row("select count(*) from sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(|e| HostError::usage(format!("{name} is not a c1z file: its database cannot be read ({e})")))?;
    read_database(&db, name, sync_id)
}

/// The run a reader takes: `wanted`, else the latest finished full sync (any finished run in a
/// file whose runs have no type).
fn choose_run(db: &Connection, name: &str, wanted: Option<&str>) -> Result<(String, String, String)> {
    let bad = |e: &dyn std::fmt::Display| HostError::usage(format!("{name} is not a readable c1z file: {e}"));
    let typed = db.prepare("select sync_type from v1_sync_runs limit 0").is_ok();
    let kind = if typed { "sync_type" } else { "'full'" };
    let runs: Vec<(String, Option<String>, Option<String>, String)> = db
        .prepare(&format!("select sync_id, started_at, ended_at, {kind} from v1_sync_runs order by id desc"))
        .and_then(|mut statement| {
            statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<std::result::Result<Vec<_>, _>>()
        })
        .map_err(|e| bad(&format!("no sync runs ({e})")))?;
    let listed = || {
        runs.iter()
            .map(|(id, _, ended, kind)| format!("{id} ({kind}{})", if ended.is_some() { "" } else { ", unfinished" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match wanted {
        Some(wanted) => runs
            .iter()
            .find(|(id, ..)| id == wanted)
            .ok_or_else(|| HostError::usage(format!("{name} holds no sync run {wanted:?}; its runs are: {}", listed())))?,
        None => runs.iter().find(|(_, _, ended, kind)| ended.is_some() && kind == "full").ok_or_else(|| {
            bad(&format!("no finished full sync run (its runs: {})", if runs.is_empty() { "none".to_owned() } else { listed() }))
        })?,
    };
    match chosen {
        (id, Some(started), Some(ended), _) => Ok((id.clone(), started.clone(), ended.clone())),
        (id, ..) => Err(HostError::usage(format!("sync run {id} of {name} is not finished; choose a finished one: {}", listed()))),
    }
}

fn read_database(db: &Connection, name: &str, sync_id: Option<&str>) -> Result<Snapshot> {
    let bad = |e: &dyn std::fmt::Display| HostError::usage(format!("{name} is not a readable c1z file: {e}"));
    let (sync, started, ended) = choose_run(db, name, sync_id)?;
    let meta: Map<String, Value> = match db.prepare("select key, value from connector_host_snapshot") {
        Ok(mut statement) => statement
            .query_map([], |r| Ok((r.get::<_, String>(0)?, Value::String(r.get::<_, String>(1)?))))
            .map_err(|e| bad(&e))?
            .filter_map(|row| row.ok())
            .collect(),
        Err(_) => Map::new(),
    };
    let ours = meta.get("sync_id").and_then(Value::as_str) == Some(sync.as_str());
    let meta_text = |key: &str| ours.then(|| meta.get(key).and_then(Value::as_str).map(str::to_owned)).flatten();
    let rows = |table: &str| -> Result<Vec<Row>> {
        let expansion = if table == "v1_grants" { "expansion" } else { "null" };
        let mut statement =
            db.prepare(&format!("select data, {expansion} from {table} where sync_id = ?1 order by id")).map_err(|e| bad(&e))?;
        let found = statement.query_map([&sync], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| bad(&e))?;
        found.collect::<std::result::Result<_, _>>().map_err(|e| bad(&e))
    };
    let decode_error = |what: &str, e: prost::DecodeError| bad(&format!("a {what} row does not decode ({e})"));

    let mut resource_types = Vec::new();
    for (data, _) in rows("v1_resource_types")? {
        let message = baton::ResourceType::decode(data.as_slice()).map_err(|e| decode_error("resource type", e))?;
        let identity = identity_of(&message.traits);
        resource_types.push(ResourceTypeRecord { id: message.id, display_name: message.display_name, identity, profile: None });
    }
    let mut resources = Vec::new();
    for (data, _) in rows("v1_resources")? {
        let message = baton::Resource::decode(data.as_slice()).map_err(|e| decode_error("resource", e))?;
        let id = message.id.clone().unwrap_or_default();
        resources.push(ResourceRecord {
            resource_type: id.resource_type,
            id: id.resource,
            display_name: message.display_name.clone(),
            traits: traits_of(&message),
        });
    }
    let mut entitlements = Vec::new();
    for (data, _) in rows("v1_entitlements")? {
        let message = baton::Entitlement::decode(data.as_slice()).map_err(|e| decode_error("entitlement", e))?;
        let resource = message.resource.as_ref().and_then(|r| r.id.clone()).unwrap_or_default();
        entitlements.push(EntitlementRecord {
            id: message.id,
            resource: ResourceKey { resource_type: resource.resource_type, id: resource.resource },
            slug: message.slug,
            display_name: message.display_name,
            grantable_to: message.grantable_to.into_iter().map(|t| t.id).collect(),
            purpose: purpose_from(message.purpose),
        });
    }
    let mut grants = Vec::new();
    for (data, expansion) in rows("v1_grants")? {
        let message = baton::Grant::decode(data.as_slice()).map_err(|e| decode_error("grant", e))?;
        let principal = message.principal.as_ref().and_then(|p| p.id.clone()).unwrap_or_default();
        let expandable = match expansion {
            Some(bytes) => {
                baton::GrantExpandable::decode(bytes.as_slice()).map_err(|e| decode_error("grant expansion", e))?.entitlement_ids
            }
            None => Vec::new(),
        };
        grants.push(GrantRecord {
            id: message.id,
            entitlement: message.entitlement.map(|e| e.id).unwrap_or_default(),
            principal: ResourceKey { resource_type: principal.resource_type, id: principal.resource },
            expandable,
        });
    }
    // Our own file keeps what the connector declared, the profile's keys included.
    if let Some(declared) = meta_text("resource_types").and_then(|t| serde_json::from_str::<Vec<ResourceTypeRecord>>(&t).ok()) {
        resource_types = declared;
    }
    resource_types.sort_by(|a, b| a.id.cmp(&b.id));
    resources.sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
    entitlements.sort_by(|a, b| a.id.cmp(&b.id));
    grants.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Snapshot {
        format: FORMAT.to_owned(),
        connector: meta_text("connector")
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or(ConnectorInfo { name: "c1z".into(), version: String::new() }),
        tenant: meta_text("tenant").unwrap_or_else(|| "default".into()),
        started_at: meta_text("started_at").unwrap_or_else(|| rfc3339_of(&started)),
        finished_at: meta_text("finished_at").unwrap_or_else(|| rfc3339_of(&ended)),
        resource_types,
        resources,
        entitlements,
        grants,
        stats: meta_text("stats").and_then(|s| serde_json::from_str::<Stats>(&s).ok()).unwrap_or_default(),
    })
}
