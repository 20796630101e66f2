//! Helpers shared by integration tests.
pub mod counting;
pub mod stress;
