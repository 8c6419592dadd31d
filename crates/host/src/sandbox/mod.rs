//! The sandbox: the engine and its instance slots, a compiled component and what it declares, its
//! sessions and how their calls fail, a store's state and limits, the connector's output, and
//! compiled components on disk.

pub mod cache;
pub mod call_error;
pub(crate) mod declared;
pub mod engine;
pub(crate) mod guest_output;
pub mod runtime;
pub mod session;
pub(crate) mod state;
