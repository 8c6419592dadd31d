//! A stateful fake of Fivetran's identity REST API, served over HTTP on loopback.
//!
//! It follows `shared/fivetran-api/openapi-identity.json`: the same paths, envelopes, cursor
//! paging (`limit` 1 to 1000), Basic auth, error bodies and `X-Rate-Limit-*` headers. Requests
//! outside the definition get the error the real API would give. [`mod@generate`] builds accounts of
//! any size with the awkward cases real accounts have; [`faults`] makes chosen requests fail.

pub mod account;
pub mod faults;
pub mod generate;
mod http_body;
mod mutations;
pub mod oracle;
pub mod quirks;
mod routes;
pub mod server;

pub use account::{Account, ApiKey};
pub use faults::{Fault, FaultRule};
pub use generate::{AccountSpec, generate};
pub use quirks::{Dialect, Paging};
pub use server::{FakeFivetran, RecordedRequest};
