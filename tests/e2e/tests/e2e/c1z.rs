//! The c1z format against the reference: a real sync written as c1z reads back equal to the JSON
//! snapshot; the file is the magic and one zstd frame with its content size; the database has
//! every table and column of baton's schema; and every row's protobuf holds, at the field numbers
//! of baton's `.proto` files (read here with a wire reader of its own, not the writer's types),
//! what the mapping says.

use std::collections::BTreeMap;

use connector_e2e::{exit_status, runtime, start, tenant};
use connector_fake_fivetran::AccountSpec;
use connector_host::{Snapshot, c1z, sync};
use rusqlite::Connection;

async fn synced() -> Snapshot {
    let (fake, account) = start(&AccountSpec::sized(17, 60, 6, 4));
    sync(runtime(), &tenant(&fake, &account)).await.expect("sync")
}

fn database(bytes: &[u8]) -> Connection {
    let data = zstd::decode_all(bytes.strip_prefix(c1z::MAGIC.as_slice()).unwrap()).unwrap();
    let mut db = Connection::open_in_memory().unwrap();
    db.deserialize_read_exact(rusqlite::MAIN_DB, data.as_slice(), data.len(), true).unwrap();
    db
}

/// The fields of a protobuf message: field number to its values (varints as numbers, the rest
/// as bytes).
#[derive(Debug, Default)]
struct Wire(BTreeMap<u64, Vec<Field>>);

#[derive(Debug, Clone)]
enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    value
}

fn wire(bytes: &[u8]) -> Wire {
    let mut fields = Wire::default();
    let mut at = 0;
    while at < bytes.len() {
        let key = varint(bytes, &mut at);
        let field = match key & 7 {
            0 => Field::Varint(varint(bytes, &mut at)),
            2 => {
                let length = varint(bytes, &mut at) as usize;
                at += length;
                Field::Bytes(bytes[at - length..at].to_vec())
            }
            1 => {
                at += 8;
                Field::Bytes(bytes[at - 8..at].to_vec())
            }
            other => panic!("wire type {other}"),
        };
        fields.0.entry(key >> 3).or_default().push(field);
    }
    fields
}

impl Wire {
    fn text(&self, number: u64) -> String {
        match self.0.get(&number).and_then(|v| v.first()) {
            Some(Field::Bytes(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("field {number} is not a string: {other:?}"),
        }
    }

    fn texts(&self, number: u64) -> Vec<String> {
        self.0
            .get(&number)
            .into_iter()
            .flatten()
            .map(|f| if let Field::Bytes(b) = f { String::from_utf8(b.clone()).unwrap() } else { panic!() })
            .collect()
    }

    fn message(&self, number: u64) -> Wire {
        match self.0.get(&number).and_then(|v| v.first()) {
            Some(Field::Bytes(b)) => wire(b),
            other => panic!("field {number} is not a message: {other:?}"),
        }
    }

    fn messages(&self, number: u64) -> Vec<Wire> {
        self.0.get(&number).into_iter().flatten().map(|f| if let Field::Bytes(b) = f { wire(b) } else { panic!() }).collect()
    }

    fn number(&self, number: u64) -> u64 {
        match self.0.get(&number).and_then(|v| v.first()) {
            Some(Field::Varint(n)) => *n,
            // A repeated scalar is packed in proto3: its first value.
            Some(Field::Bytes(packed)) if !packed.is_empty() => varint(packed, &mut 0),
            None => 0,
            other => panic!("field {number} is not a varint: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_sync_written_as_c1z_reads_back_equal_and_the_same_snapshot_gives_the_same_bytes() {
    let snapshot = synced().await;
    let bytes = c1z::encode(&snapshot).unwrap();
    assert_eq!(c1z::decode(&bytes, "test").unwrap(), snapshot);
    assert_eq!(c1z::encode(&snapshot).unwrap(), bytes, "deterministic");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    c1z::write(&snapshot, &path).unwrap();
    assert_eq!(connector_host::format::read(&path).unwrap(), snapshot, "read by its magic");
    let written = std::fs::read(&path).unwrap();
    c1z::write(&snapshot, &path).unwrap();
    assert!(std::fs::read(&path).unwrap() == written, "a file written twice has the same bytes");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no working file is left beside it");
}

#[tokio::test]
async fn the_file_is_the_magic_then_one_zstd_frame_with_its_content_size() {
    let bytes = c1z::encode(&synced().await).unwrap();
    assert_eq!(&bytes[..5], b"C1ZF\0");
    let frame = &bytes[5..];
    assert_eq!(&frame[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    let content = zstd::zstd_safe::get_frame_content_size(frame).unwrap().expect("the frame records its content size");
    assert_eq!(zstd::zstd_safe::find_frame_compressed_size(frame).unwrap(), frame.len(), "exactly one frame");
    let database = zstd::decode_all(frame).unwrap();
    assert_eq!(content as usize, database.len());
    assert!(database.starts_with(b"SQLite format 3\0"));
}

fn columns(db: &Connection, table: &str) -> Vec<(String, String, bool)> {
    let mut statement = db.prepare(&format!("pragma table_info({table})")).unwrap();
    statement
        .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?.to_lowercase(), r.get::<_, i64>(3)? == 1)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn names(db: &Connection, kind: &str) -> Vec<String> {
    let mut statement = db.prepare("select name from sqlite_master where type = ?1 and name not like 'sqlite_%' order by name").unwrap();
    statement.query_map([kind], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// baton-sdk's reference schema, as a database.
fn reference() -> Connection {
    let reference = Connection::open_in_memory().unwrap();
    reference.execute_batch(include_str!("../../spec/c1z-reference-schema.sql")).unwrap();
    reference
}

/// `db` (`what`, for the messages) has every table, column and index of the reference schema.
fn assert_has_the_reference_layout(db: &Connection, what: &str) {
    let reference = reference();
    let ours = names(db, "table");
    for table in names(&reference, "table") {
        assert!(ours.contains(&table), "{what}: table {table}");
        let have = columns(db, &table);
        for column in columns(&reference, &table) {
            assert!(have.contains(&column), "{what} {table}: column {column:?} in {have:?}");
        }
    }
    let indexes = names(db, "index");
    for index in names(&reference, "index") {
        assert!(indexes.contains(&index), "{what}: index {index}");
    }
}

#[tokio::test]
async fn the_database_has_every_table_column_and_index_of_the_reference() {
    let db = database(&c1z::encode(&synced().await).unwrap());
    assert_has_the_reference_layout(&db, "the written database");
    if let Ok(shared) = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/baton-c1z/README.md")) {
        let copy = include_str!("../../spec/c1z-reference-schema.sql");
        let sql = copy.split_once('\n').unwrap().1;
        assert!(shared.contains(sql.trim()), "the copy of the reference schema is current");
    }
}

/// The schema file the writer runs holds baton's reference layout by itself, and the database
/// the writer makes has exactly what the file declares.
#[tokio::test]
async fn the_schema_file_has_the_reference_layout_and_is_what_the_writer_makes() {
    assert_eq!(c1z::SCHEMA, include_str!("../../../../crates/host/src/snapshots/c1z/schema.sql"));
    let ours = Connection::open_in_memory().unwrap();
    ours.execute_batch(c1z::SCHEMA).unwrap();
    assert_has_the_reference_layout(&ours, "schema.sql");
    let written = database(&c1z::encode(&synced().await).unwrap());
    assert_eq!(names(&written, "table"), names(&ours, "table"));
    assert_eq!(names(&written, "index"), names(&ours, "index"));
}

#[tokio::test]
async fn every_row_holds_what_the_mapping_names_at_batons_field_numbers() {
    let snapshot = synced().await;
    let db = database(&c1z::encode(&snapshot).unwrap());
    let (sync_id, ended): (String, Option<String>) =
        db.query_row("select sync_id, ended_at from v1_sync_runs", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(sync_id.len(), 27, "a KSUID");
    assert!(ended.is_some(), "a finished run, which readers take");
    let (kind, backfilled): (String, i64) =
        db.query_row("select sync_type, grants_backfilled from v1_sync_runs", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((kind.as_str(), backfilled), ("full", 1));

    // ResourceType: id=1, display_name=2, traits=3 (USER=1, GROUP=2, ROLE=3).
    let mut statement = db.prepare("select external_id, data from v1_resource_types").unwrap();
    for row in statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))).unwrap() {
        let (id, data) = row.unwrap();
        let message = wire(&data);
        assert_eq!(message.text(1), id);
        let expected = match id.as_str() {
            "user" => 1,
            "team" | "group" => 2,
            "role" => 3,
            _ => 0,
        };
        assert_eq!(message.number(3), expected, "{id}'s trait");
    }

    // Resource: id=1 (ResourceId: resource_type=1, resource=2), display_name=3, annotations=4 (Any: type_url=1, value=2).
    let users: BTreeMap<&str, &connector_host::snapshot::ResourceRecord> =
        snapshot.resources.iter().filter(|r| r.resource_type == "user").map(|r| (r.id.as_str(), r)).collect();
    let mut statement = db.prepare("select resource_type_id, external_id, data from v1_resources").unwrap();
    let mut seen_users = 0;
    for row in statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))).unwrap() {
        let (resource_type, external, data) = row.unwrap();
        let message = wire(&data);
        let id = message.message(1);
        assert_eq!(id.text(1), resource_type);
        assert_eq!(external, format!("{resource_type}:{}", id.text(2)));
        let annotation = &message.messages(4)[0];
        let expected_trait = match resource_type.as_str() {
            "user" => "UserTrait",
            "role" => "RoleTrait",
            _ => "GroupTrait",
        };
        assert_eq!(annotation.text(1), format!("type.googleapis.com/c1.connector.v2.{expected_trait}"));
        if resource_type == "user" {
            seen_users += 1;
            let record = users[id.text(2).as_str()];
            assert_eq!(message.text(3), record.display_name);
            // UserTrait: emails=1 (address=1, is_primary=2), status=2 (status=1: ENABLED=1, DISABLED=2), profile=3, login=6, structured_name=12.
            let user = wire(match &annotation.0[&2][0] {
                Field::Bytes(b) => b,
                Field::Varint(_) => panic!(),
            });
            let email = &user.messages(1)[0];
            assert_eq!(email.text(1), record.traits["email"].as_str().unwrap());
            assert_eq!(email.number(2), 1);
            let status = if record.traits["status"] == "enabled" { 1 } else { 2 };
            assert_eq!(user.message(2).number(1), status);
            assert_eq!(user.text(6), record.traits["login"].as_str().unwrap());
            if let Some(given) = record.traits["given_name"].as_str() {
                assert_eq!(user.message(12).text(1), given);
            }
            assert!(user.0.contains_key(&3), "the profile holds the traits");
        }
    }
    assert_eq!(seen_users, users.len());

    // Entitlement: resource=1, id=2, display_name=3, grantable_to=5 (ResourceType id=1), purpose=7, slug=8.
    let mut statement = db.prepare("select external_id, resource_type_id, resource_id, data from v1_entitlements").unwrap();
    for row in statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?)))
        .unwrap()
    {
        let (id, resource_type, resource, data) = row.unwrap();
        let message = wire(&data);
        assert_eq!(message.text(2), id);
        let record = snapshot.entitlements.iter().find(|e| e.id == id).unwrap();
        assert_eq!(message.message(1).message(1).text(2), resource);
        assert_eq!(record.resource.resource_type, resource_type);
        assert_eq!(message.text(8), record.slug);
        assert_eq!(message.text(3), record.display_name);
        let grantable: Vec<String> = message.messages(5).iter().map(|t| t.text(1)).collect();
        assert_eq!(grantable, record.grantable_to);
        let purpose = if ["member", "manager", "assigned"].contains(&record.slug.as_str()) { 1 } else { 2 };
        assert_eq!(message.number(7), purpose, "{id}: ASSIGNMENT=1 for memberships and roles, PERMISSION=2 for access");
    }

    // Grant: entitlement=1 (id=2), principal=2 (id=1), id=3; an expandable one's GrantExpandable (entitlement_ids=1) in `expansion`.
    let mut statement = db.prepare("select external_id, entitlement_id, principal_resource_type_id, principal_resource_id, expansion, needs_expansion, data from v1_grants").unwrap();
    let mut expandable = 0;
    for row in statement
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Vec<u8>>(6)?,
            ))
        })
        .unwrap()
    {
        let (id, entitlement, principal_type, principal_id, expansion, needs, data) = row.unwrap();
        let message = wire(&data);
        assert_eq!(message.text(3), id);
        assert_eq!(message.message(1).text(2), entitlement);
        let principal = message.message(2).message(1);
        assert_eq!((principal.text(1), principal.text(2)), (principal_type, principal_id));
        let record = snapshot.grants.iter().find(|g| g.id == id).unwrap();
        match expansion {
            Some(bytes) => {
                expandable += 1;
                assert_eq!(needs, 1);
                assert_eq!(wire(&bytes).texts(1), record.expandable);
            }
            None => assert!(record.expandable.is_empty() && needs == 0),
        }
    }
    assert_eq!(expandable, snapshot.grants.iter().filter(|g| !g.expandable.is_empty()).count());
    assert!(expandable > 0, "the account has team grants to expand");
}

#[tokio::test]
async fn a_file_that_is_not_c1z_is_refused_in_one_line() {
    for (bytes, why) in [(&b"C1ZF\0not zstd"[..], "damaged"), (&b"{\"format\""[..], "does not start")] {
        let error = c1z::decode(bytes, "x.c1z").unwrap_err();
        assert_eq!(exit_status(&error), 2, "{error}");
        assert!(error.to_string().contains(why), "{error}");
    }
    let mut bomb = b"C1ZF\0".to_vec();
    bomb.extend(zstd::encode_all(&b"not a database"[..], 3).unwrap());
    assert!(c1z::decode(&bomb, "x.c1z").is_err());
}

const BATON_SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/written-by-baton-sdk-v0.7.27.c1z");

#[tokio::test]
async fn a_file_baton_sdk_wrote_reads_whole_and_round_trips() {
    let bytes = std::fs::read(BATON_SAMPLE).unwrap();
    let frame = bytes.strip_prefix(c1z::MAGIC.as_slice()).unwrap();
    assert_eq!(zstd::zstd_safe::get_frame_content_size(frame).unwrap(), None, "its frame declares no size");
    let header =
        zstd::stream::read::Decoder::new(frame).map(|d| std::io::Read::bytes(d).take(20).map(|b| b.unwrap()).collect::<Vec<u8>>()).unwrap();
    assert_eq!((header[18], header[19]), (2, 2), "its database is marked WAL");

    let snapshot = connector_host::format::read(std::path::Path::new(BATON_SAMPLE)).expect("baton's file reads");
    assert_eq!((snapshot.resources.len(), snapshot.entitlements.len(), snapshot.grants.len()), (382, 280, 1564));
    assert!(snapshot.grants.iter().any(|g| !g.expandable.is_empty()), "its expansions come through");
    assert!(
        snapshot.resources.iter().any(|r| r.traits.get("email").is_some() || r.traits.get("emails").is_some()),
        "user traits come through"
    );

    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("again.c1z");
    c1z::write(&snapshot, &written).unwrap();
    let again = connector_host::format::read(&written).unwrap();
    assert_eq!(again.resources, snapshot.resources);
    assert_eq!(again.entitlements, snapshot.entitlements);
    assert_eq!(again.grants, snapshot.grants);
    let run: (String, i64, i64) = database(&std::fs::read(&written).unwrap())
        .query_row("select sync_type, supports_diff, grants_backfilled from v1_sync_runs", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!(run, ("full".to_owned(), 1, 1), "marked as baton-sdk marks its runs");
    let indexes: Vec<String> = database(&std::fs::read(&written).unwrap())
        .prepare("select name from sqlite_master where type = 'index'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for baton_index in [
        "idx_assets_external_sync_v1",
        "idx_grants_sync_expansion_v1",
        "idx_grants_sync_needs_expansion_v1",
        "idx_session_store_sync_key_v1",
    ] {
        assert!(indexes.iter().any(|i| i == baton_index), "{baton_index} in {indexes:?}");
    }
}

/// A c1z file of `database` (an SQLite image), its frame streamed without a declared size.
fn c1z_of(database: &[u8]) -> Vec<u8> {
    let mut bytes = c1z::MAGIC.to_vec();
    bytes.extend(zstd::encode_all(database, 3).unwrap());
    bytes
}

#[tokio::test]
async fn a_file_with_several_runs_reads_its_latest_finished_full_sync_or_the_run_asked_for() {
    let first = synced().await;
    let mut second = first.clone();
    second.grants.truncate(5);
    second.finished_at = "2031-01-01T00:00:00Z".into();
    second.started_at = "2031-01-01T00:00:00Z".into();
    // One database with both runs, then a partial run after them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.db");
    std::fs::write(&path, c1z::database(&first).unwrap()).unwrap();
    let other = dir.path().join("second.db");
    std::fs::write(&other, c1z::database(&second).unwrap()).unwrap();
    let db = Connection::open(&path).unwrap();
    db.execute("attach ?1 as second", [other.to_str().unwrap()]).unwrap();
    for table in ["v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"] {
        let columns: Vec<String> = db
            .prepare(&format!("select name from pragma_table_info('{table}') where name != 'id'"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let columns = columns.join(", ");
        db.execute(&format!("insert into {table} ({columns}) select {columns} from second.{table}"), []).unwrap();
    }
    db.execute("insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, supports_diff) select sync_id, started_at, ended_at, sync_token, sync_type, supports_diff from second.v1_sync_runs", []).unwrap();
    db.execute("insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) values ('zzzpartial', '2032-01-01 00:00:00', '2032-01-01 00:00:01', '', 'partial')", []).unwrap();
    db.execute("insert into v1_sync_runs (sync_id, started_at, sync_token) values ('zzzrunning', '2033-01-01 00:00:00', '')", []).unwrap();
    db.execute("detach second", []).unwrap();
    drop(db);
    let file = dir.path().join("runs.c1z");
    std::fs::write(&file, c1z_of(&std::fs::read(&path).unwrap())).unwrap();

    let latest = connector_host::format::read(&file).unwrap();
    assert_eq!(latest.grants.len(), 5, "the latest finished full sync");
    let older = connector_host::format::read_run(&file, Some(&c1z::sync_id(&first))).unwrap();
    assert_eq!(older.grants, first.grants);
    let error = connector_host::format::read_run(&file, Some("zzzrunning")).unwrap_err();
    assert!(error.to_string().contains("not finished"), "{error}");
    let error = connector_host::format::read_run(&file, Some("nope")).unwrap_err();
    assert_eq!(exit_status(&error), 2);
    assert!(error.to_string().contains("zzzpartial (partial)") && error.to_string().contains("zzzrunning (full, unfinished)"), "{error}");
}

#[tokio::test]
async fn a_wal_marked_database_reads_and_bombs_are_refused_before_they_go_off() {
    let snapshot = synced().await;
    let mut image = c1z::database(&snapshot).unwrap();
    image[18] = 2;
    image[19] = 2;
    assert_eq!(c1z::decode(&c1z_of(&image), "wal.c1z").unwrap(), snapshot);

    // A frame that declares six gibibytes: refused from its header.
    let mut declared = c1z::MAGIC.to_vec();
    declared.extend([0x28, 0xb5, 0x2f, 0xfd, 0xe0]);
    declared.extend((6u64 << 30).to_le_bytes());
    declared.extend([0u8; 64]);
    let started = std::time::Instant::now();
    let error = c1z::decode(&declared, "bomb.c1z").unwrap_err();
    assert!(error.to_string().contains("declares a database of 6442450944 bytes"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // One that declares nothing: stopped at the bound, streamed (here a small one).
    let zeros = c1z_of(&vec![0u8; 4 << 20]);
    let error = c1z::unpack_within(zeros.as_slice(), "zeros.c1z", 1 << 20).err().unwrap();
    assert!(error.to_string().contains("decompresses to more than 1048576 bytes"), "{error}");
    // Not a database at all: one line, no panic.
    let error = c1z::decode(&c1z_of(&vec![7u8; 3 << 20]), "noise.c1z").unwrap_err();
    assert_eq!(exit_status(&error), 2, "{error}");
}
