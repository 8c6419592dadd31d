//! The sandbox: the engine and its instance slots, a compiled component and its sessions, a
//! store's state and limits, the plugin's output, and compiled components on disk.

pub mod cache;
pub mod engine;
pub(crate) mod guest_output;
pub mod runtime;
pub(crate) mod state;
