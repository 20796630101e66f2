//! The AcornLab performance lab. The runner arrives with the lab issues; for now the
//! library only names what the binary will do.

/// What `lab run` says until the runner lands.
pub const NOT_YET: &str = "lab run: the workload runner is not built yet (see the lab issues); \
the engine benches run with `cargo bench -p acorn`";
