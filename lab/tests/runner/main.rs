//! The runner with a fake clock: open-loop latency counts a stall against every operation it
//! delayed (no coordinated omission); closed loop charges it once. Scheduling, stopping and
//! error counting. No assertion here depends on how fast this machine is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use acorn_lab::backend::{
    AsyncWorker, Backend, BackendError, BackendInfo, LocalFuture, Page, QuerySpec, Result, Worker,
};
use acorn_lab::doc::Value;
use acorn_lab::runner::clock::{Clock, FakeClock};
use acorn_lab::runner::phase::run_phase;
use acorn_lab::runner::{run, RunOptions, Silent};
use acorn_lab::workload::{Mix, OpKind, Plan};

#[path = "../common/stall.rs"]
mod stall;
use stall::{test_info, Stall};

mod in_flight;
mod loading;
mod open_loop;
mod runs;

fn plan(extra: &str) -> Plan {
    let src = format!("name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 100\n[run]\nops = 1000\nwarmup = \"0s\"\n{extra}\n[mix]\nread = 100\n");
    Plan::parse(Path::new("t.toml"), &src).unwrap()
}
