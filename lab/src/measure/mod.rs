//! Measurement helpers: the counting allocator.

pub mod alloc;
