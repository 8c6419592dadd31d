//! The c1z v1 format of ConductorOne's baton SDK (`docs/contract.md` section 8,
//! `../shared/baton-c1z/README.md`): the five bytes `C1ZF\0`, then one zstd frame (with its
//! content size) holding a SQLite database with baton's `v1_*` tables, one finished full sync
//! run, and the snapshot's resource types, resources, entitlements and grants as baton's
//! protobuf messages ([`crate::baton`]).
//!
//! The mapping (the README has it as a table): resource types `user` USER, `group` and `team`
//! GROUP, `role` ROLE; each resource carries its trait annotation with the JSON traits as its
//! profile (users also their emails, status, login, last login and structured name); an
//! entitlement's purpose is ASSIGNMENT for memberships and role assignments (slugs `member`,
//! `manager`, `assigned`), PERMISSION otherwise (access to a destination or group); an expandable
//! grant's expansion is a `GrantExpandable` in the `expansion` column with `needs_expansion = 1`,
//! as baton stores it. What baton's tables have no place for (the connector, the tenant, the
//! times and stats of the run) is kept in one more table, `connector_host_snapshot`, so that
//! converting back loses nothing.
//!
//! The same snapshot gives the same bytes: the sync id is derived from the snapshot's tenant and
//! times, rows go in id order, and messages encode deterministically.

use std::io::Read;
use std::path::Path;

use prost::Message;
use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::baton;
use crate::error::{HostError, Result};
use crate::snapshot::{
    ConnectorInfo, EntitlementRecord, FORMAT, GrantRecord, Identity, Purpose, ResourceKey, ResourceRecord, ResourceTypeRecord, Snapshot,
    Stats,
};

/// The first bytes of a c1z v1 file.
pub const MAGIC: &[u8; 5] = b"C1ZF\0";
/// The largest database a c1z file may decompress to (a bound against decompression bombs).
pub const MAX_DATABASE_BYTES: u64 = 4 << 30;

const SCHEMA: &str = "
create table v1_resource_types (id integer primary key, external_id text not null, data blob not null,
  sync_id text not null, discovered_at datetime not null);
create unique index idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id);
create table v1_resources (id integer primary key, resource_type_id text not null, external_id text not null,
  parent_resource_type_id text, parent_resource_id text, data blob not null, sync_id text not null,
  discovered_at datetime not null);
create index idx_resources_resource_type_id_v1 on v1_resources (resource_type_id);
create index idx_resources_parent_resource_id_v1 on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index idx_resources_external_sync_v1 on v1_resources (external_id, sync_id);
create table v1_entitlements (id integer primary key, resource_type_id text not null, resource_id text not null,
  external_id text not null, data blob not null, sync_id text not null, discovered_at datetime not null);
create index idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id);
create unique index idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id);
create table v1_grants (id integer primary key, resource_type_id text not null, resource_id text not null,
  entitlement_id text not null, principal_resource_type_id text not null, principal_resource_id text not null,
  external_id text not null, expansion blob, needs_expansion integer not null default 0,
  data blob not null, sync_id text not null, discovered_at datetime not null);
create index idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id);
create index idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id);
create index idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
create unique index idx_grants_external_sync_v1 on v1_grants (external_id, sync_id);
create index idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null;
create index idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1;
create table v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null,
  ended_at datetime, sync_token text not null, sync_type text not null default 'full',
  parent_sync_id text not null default '', linked_sync_id text not null default '',
  supports_diff integer not null default 0, grants_backfilled integer not null default 0, stats text,
  ingest_invariant_generation text not null default '', ingest_invariant_coverage text not null default '',
  ingest_invariant_mode text not null default '');
create unique index idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id);
create table v1_assets (id integer primary key, external_id text not null, content_type text not null,
  data blob not null, sync_id text not null, discovered_at datetime not null);
create unique index idx_assets_external_sync_v1 on v1_assets (external_id, sync_id);
create table v1_connector_sessions (id integer primary key, sync_id text not null, key text not null,
  value blob not null);
create unique index idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key);
create table connector_host_snapshot (key text primary key, value text not null);
";

fn failed(what: &str, error: impl std::fmt::Display) -> HostError {
    HostError::other(format!("cannot {what} the c1z file: {error}"))
}

/// The baton trait of what a resource type's connector declared it is.
pub fn trait_of(declared: Option<Identity>) -> Option<baton::Trait> {
    match declared? {
        Identity::User => Some(baton::Trait::User),
        Identity::Group => Some(baton::Trait::Group),
        Identity::Role => Some(baton::Trait::Role),
        Identity::App => Some(baton::Trait::App),
    }
}

/// The baton purpose of what an entitlement's connector declared it means (unspecified in
/// snapshots from before connectors declared it).
pub fn purpose_of(declared: Option<Purpose>) -> baton::Purpose {
    match declared {
        Some(Purpose::Assignment) => baton::Purpose::Assignment,
        Some(Purpose::Permission) => baton::Purpose::Permission,
        None => baton::Purpose::Unspecified,
    }
}

/// `YYYY-MM-DD HH:MM:SS.fffffffff`, as baton stores times, from RFC 3339.
fn baton_time(rfc3339: &str) -> String {
    match humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')) {
        Ok(time) => {
            let text = humantime::format_rfc3339_nanos(time).to_string();
            text.trim_end_matches('Z').replacen('T', " ", 1)
        }
        Err(_) => "1970-01-01 00:00:00.000000000".into(),
    }
}

/// RFC 3339 (seconds, `Z`) from baton's stored time.
fn rfc3339_of(baton: &str) -> String {
    match humantime::parse_rfc3339_weak(&baton.replacen(' ', "T", 1)) {
        Ok(time) => humantime::format_rfc3339_seconds(time).to_string(),
        Err(_) => baton.to_owned(),
    }
}

fn timestamp(rfc3339: &str) -> Option<baton::Timestamp> {
    let time = humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(baton::Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 })
}

/// A KSUID (27 base-62 characters: 4 bytes of seconds since 2014-05-13, 16 of payload) made
/// from the snapshot: its start time, and a hash of its tenant and times as the payload.
pub fn sync_id(snapshot: &Snapshot) -> String {
    const EPOCH: u64 = 1_400_000_000;
    let seconds = timestamp(&snapshot.started_at).map_or(0, |t| t.seconds.max(0) as u64).saturating_sub(EPOCH) as u32;
    let digest = Sha256::digest(format!("{}\n{}\n{}", snapshot.tenant, snapshot.started_at, snapshot.finished_at));
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..].copy_from_slice(&digest[..16]);
    base62(&bytes)
}

/// 20 bytes as 27 base-62 digits (KSUID's alphabet), big-endian.
fn base62(bytes: &[u8; 20]) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut number: Vec<u32> = bytes.iter().map(|b| u32::from(*b)).collect();
    let mut digits = Vec::with_capacity(27);
    while number.iter().any(|d| *d != 0) {
        let mut remainder = 0u32;
        for digit in &mut number {
            let value = remainder * 256 + *digit;
            *digit = value / 62;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < 27 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn resource_id(key: &ResourceKey) -> baton::ResourceId {
    baton::ResourceId { resource_type: key.resource_type.clone(), resource: key.id.clone() }
}

fn resource_message(record: &ResourceRecord, declared: Option<&ResourceTypeRecord>) -> baton::Resource {
    let profile = record.traits.as_object().map(baton::to_struct);
    let keys = declared.and_then(|d| d.profile.clone()).unwrap_or_default();
    // The value of the trait the connector declared holds this part of the profile.
    let text = |key: &Option<String>| key.as_deref().and_then(|k| record.traits.get(k)).and_then(Value::as_str).map(str::to_owned);
    let annotation = match trait_of(declared.and_then(|d| d.identity)) {
        Some(baton::Trait::User) => {
            let status = match text(&keys.status).as_deref() {
                Some("enabled") => baton::UserStatus::Enabled,
                Some("disabled") => baton::UserStatus::Disabled,
                _ => baton::UserStatus::Unspecified,
            };
            let user = baton::UserTrait {
                emails: text(&keys.email).map(|address| vec![baton::Email { address, is_primary: true }]).unwrap_or_default(),
                status: Some(baton::Status { status: status as i32, details: String::new() }),
                profile,
                login: text(&keys.login).or_else(|| text(&keys.email)).unwrap_or_default(),
                created_at: text(&keys.created_at).as_deref().and_then(timestamp),
                last_login: text(&keys.last_login).as_deref().and_then(timestamp),
                structured_name: match (text(&keys.given_name), text(&keys.family_name)) {
                    (None, None) => None,
                    (given, family) => {
                        Some(baton::StructuredName { given_name: given.unwrap_or_default(), family_name: family.unwrap_or_default() })
                    }
                },
            };
            Some(baton::Any::pack("UserTrait", &user))
        }
        Some(baton::Trait::Group) => Some(baton::Any::pack("GroupTrait", &baton::GroupTrait { profile })),
        Some(baton::Trait::Role) => Some(baton::Any::pack("RoleTrait", &baton::RoleTrait { profile })),
        // Another type's traits ride in a GroupTrait-free annotation of our own name.
        _ => profile.map(|p| baton::Any { type_url: PROFILE_TYPE_URL.into(), value: p.encode_to_vec() }),
    };
    baton::Resource {
        id: Some(resource_id(&record.key())),
        parent_resource_id: None,
        display_name: record.display_name.clone(),
        annotations: annotation.into_iter().collect(),
        description: String::new(),
    }
}

/// The traits of a resource whose type has no baton trait, as a `google.protobuf.Struct`.
const PROFILE_TYPE_URL: &str = "type.googleapis.com/google.protobuf.Struct";

fn entitlement_message(record: &EntitlementRecord, display: &str) -> baton::Entitlement {
    baton::Entitlement {
        resource: Some(baton::Resource { id: Some(resource_id(&record.resource)), display_name: display.to_owned(), ..Default::default() }),
        id: record.id.clone(),
        display_name: record.display_name.clone(),
        description: String::new(),
        grantable_to: record.grantable_to.iter().map(|t| baton::ResourceType { id: t.clone(), ..Default::default() }).collect(),
        annotations: Vec::new(),
        purpose: purpose_of(record.purpose) as i32,
        slug: record.slug.clone(),
    }
}

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

/// Whether `bytes` start as a c1z file does.
pub fn is_c1z(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// A c1z file's database, unpacked into a temporary file (removed when dropped), so that what
/// a file holds never has to fit in memory, nor be handed to SQLite as an image.
pub struct Unpacked {
    file: tempfile::NamedTempFile,
}

impl Unpacked {
    /// The database, read-only.
    pub fn open(&self) -> Result<Connection> {
        Connection::open_with_flags(
            self.file.path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| failed("open the unpacked database of", e))
    }
}

/// Unpacks a c1z file read from `reader`: the magic; the zstd frame's declared size checked
/// before anything is decompressed; the frame streamed into a temporary file under
/// [`MAX_DATABASE_BYTES`] (frames without a declared size too). A database saved in WAL mode
/// (header bytes 18 and 19 are 2, as baton-sdk saved its files from v0.2.46 to v0.8.14, after a
/// checkpoint) is marked as the rollback-journal database it then is, which SQLite opens alone.
pub fn unpack(reader: impl Read, name: &str) -> Result<Unpacked> {
    unpack_within(reader, name, MAX_DATABASE_BYTES)
}

/// [`unpack`] with another bound than [`MAX_DATABASE_BYTES`].
pub fn unpack_within(mut reader: impl Read, name: &str, limit: u64) -> Result<Unpacked> {
    let not_c1z = |why: String| HostError::usage(format!("{name} is not a c1z file: {why}"));
    let mut head = Vec::with_capacity(64);
    (&mut reader).take(5 + 18).read_to_end(&mut head).map_err(|e| not_c1z(format!("it cannot be read ({e})")))?;
    let Some(frame_head) = head.strip_prefix(MAGIC.as_slice()) else {
        return Err(not_c1z("it does not start with C1ZF".into()));
    };
    if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(frame_head)
        && declared > limit
    {
        return Err(HostError::usage(format!(
            "{name} declares a database of {declared} bytes, more than the {limit} a c1z file may hold; refused"
        )));
    }
    let frame = std::io::Cursor::new(frame_head.to_vec()).chain(reader);
    let decoder = zstd::stream::read::Decoder::new(frame).map_err(|e| not_c1z(e.to_string()))?;
    let mut file = tempfile::Builder::new()
        .prefix(".c1z-")
        .tempfile()
        .map_err(|e| HostError::other(format!("cannot make a temporary file to unpack {name} into: {e}; check TMPDIR")))?;
    let written =
        std::io::copy(&mut decoder.take(limit + 1), file.as_file_mut()).map_err(|e| not_c1z(format!("its zstd frame is damaged ({e})")))?;
    if written > limit {
        return Err(HostError::usage(format!("{name} decompresses to more than {limit} bytes; refused")));
    }
    mark_rollback_journal(file.as_file_mut()).map_err(|e| HostError::other(format!("cannot prepare the database of {name}: {e}")))?;
    Ok(Unpacked { file })
}

/// Header bytes 18 and 19 (the file format's write and read versions) 2 mean WAL mode; 1 the
/// rollback journal. Only a whole SQLite header is touched.
fn mark_rollback_journal(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut header = [0u8; 20];
    file.seek(SeekFrom::Start(0))?;
    if file.read_exact(&mut header).is_err() || !header.starts_with(b"SQLite format 3\0") {
        return Ok(());
    }
    if header[18] == 2 && header[19] == 2 {
        file.seek(SeekFrom::Start(18))?;
        file.write_all(&[1, 1])?;
        file.flush()?;
    }
    Ok(())
}

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

fn read_run(reader: impl Read, name: &str, sync_id: Option<&str>) -> Result<Snapshot> {
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
        let identity = message.traits.iter().find_map(|t| match baton::Trait::try_from(*t) {
            Ok(baton::Trait::User) => Some(Identity::User),
            Ok(baton::Trait::Group) => Some(Identity::Group),
            Ok(baton::Trait::Role) => Some(Identity::Role),
            Ok(baton::Trait::App) => Some(Identity::App),
            _ => None,
        });
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
            purpose: match baton::Purpose::try_from(message.purpose) {
                Ok(baton::Purpose::Assignment) => Some(Purpose::Assignment),
                Ok(baton::Purpose::Permission) => Some(Purpose::Permission),
                _ => None,
            },
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

/// The JSON traits a resource's trait annotation carries as its profile.
fn traits_of(resource: &baton::Resource) -> Value {
    for annotation in &resource.annotations {
        let profile = match annotation.name() {
            Some("UserTrait") => baton::UserTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            Some("GroupTrait") => baton::GroupTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            Some("RoleTrait") => baton::RoleTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            _ if annotation.type_url == PROFILE_TYPE_URL => baton::Struct::decode(annotation.value.as_slice()).ok(),
            _ => None,
        };
        if let Some(profile) = profile {
            return Value::Object(baton::from_struct(&profile));
        }
    }
    Value::Object(Map::new())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            connector: ConnectorInfo { name: "example".into(), version: "0.1.0".into() },
            tenant: "default".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            resource_types: vec![],
            resources: vec![],
            entitlements: vec![],
            grants: vec![],
            stats: Stats::default(),
        }
    }

    #[test]
    fn sync_ids_are_ksuids_sorting_by_time() {
        let mut snapshot = sample();
        let early = sync_id(&snapshot);
        snapshot.started_at = "2027-01-01T00:00:00Z".into();
        let late = sync_id(&snapshot);
        assert_eq!(early.len(), 27);
        assert!(early.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(early < late);
        assert_eq!(base62(&[0u8; 20]), "0".repeat(27));
        assert_eq!(base62(&[255u8; 20]), "aWgEPTl1tmebfsQzFP4bxwgy80V", "the largest KSUID");
    }

    #[test]
    fn times_are_stored_as_baton_does() {
        assert_eq!(baton_time("2026-11-23T09:00:03Z"), "2026-11-23 09:00:03.000000000");
        assert_eq!(rfc3339_of("2026-11-23 09:00:03.000000000"), "2026-11-23T09:00:03Z");
    }
}
