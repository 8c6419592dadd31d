//! The c1z v1 format of ConductorOne's baton SDK (`docs/contract.md` section 8,
//! `../shared/baton-c1z/README.md`): the five bytes `C1ZF\0`, then one zstd frame (with its
//! content size) holding a SQLite database with baton's `v1_*` tables, one finished full sync
//! run, and the snapshot's resource types, resources, entitlements and grants as baton's
//! protobuf messages ([`crate::baton`]).
//!
//! One file a concern: [`framing`] (the magic and the zstd frame, unpacked under a bound),
//! `schema.sql` (baton's tables and ours), [`mapping`] (snapshot records to baton's messages and
//! back, by what each connector declared), [`ksuid`] and [`times`] (baton's ids and times),
//! [`writer`] and [`reader`].
//!
//! What baton's tables have no place for (the connector, the tenant, the times and stats of the
//! run, what each resource type declared) is kept in one more table, `connector_host_snapshot`,
//! so that converting back loses nothing. The same snapshot gives the same bytes: the sync id is
//! derived from the snapshot's tenant and times, rows go in id order, and messages encode
//! deterministically.

pub mod framing;
pub mod ksuid;
pub mod mapping;
pub mod reader;
pub mod times;
pub mod writer;

pub use framing::{MAGIC, MAX_DATABASE_BYTES, Unpacked, is_c1z, unpack, unpack_within};
pub use ksuid::sync_id;
pub use mapping::{purpose_of, trait_of};
pub use reader::{decode, read};
pub use writer::{SCHEMA, database, encode, write};
