//! A test backend on a fake clock: every operation takes 1 µs of fake time, operation
//! number `stall_at` takes `stall_ns`, and deletes can be made to fail. The runner's tests
//! (tests/runner/) and the phase tests (tests/phases.rs) both run it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use acorn_lab::backend::{Backend, BackendError, BackendInfo, Page, QuerySpec, Result, Worker};
use acorn_lab::doc::Value;
use acorn_lab::runner::clock::FakeClock;

/// What a test backend says about itself.
pub fn test_info(name: &str, stores_data: bool) -> BackendInfo {
    BackendInfo {
        name: name.into(),
        store: "test".into(),
        durability: "none".into(),
        serialization: "none".into(),
        cache: "none".into(),
        stores_data,
        rust_heap: true,
    }
}

pub struct Stall {
    clock: Arc<FakeClock>,
    stall_at: u64,
    stall_ns: u64,
    count: AtomicU64,
    fail_deletes: bool,
}

impl Stall {
    /// Operation number `stall_at` (counted from 0) takes `stall_ns` of `clock`'s time.
    pub fn new(clock: &Arc<FakeClock>, stall_at: u64, stall_ns: u64) -> Stall {
        Stall {
            clock: Arc::clone(clock),
            stall_at,
            stall_ns,
            count: AtomicU64::new(0),
            fail_deletes: false,
        }
    }

    /// Every delete fails with a store error.
    pub fn failing_deletes(mut self) -> Stall {
        self.fail_deletes = true;
        self
    }
}

impl Backend for Stall {
    fn name(&self) -> &str {
        "stall"
    }
    fn describe(&self) -> BackendInfo {
        test_info("stall", false)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(StallWorker(self, Page::default()))
    }
}

/// The backend, and the (always empty) page its queries return.
struct StallWorker<'a>(&'a Stall, Page);

impl StallWorker<'_> {
    fn tick(&self) {
        let n = self.0.count.fetch_add(1, Ordering::SeqCst);
        let s = self.0;
        s.clock
            .advance(if n == s.stall_at { s.stall_ns } else { 1_000 });
    }
}

impl Worker for StallWorker<'_> {
    fn insert(&mut self, _: &[u8], _: &Value) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        self.tick();
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Value) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        self.tick();
        if self.0.fail_deletes {
            return Err(BackendError::Store {
                backend: "stall".into(),
                message: "disk on fire".into(),
            });
        }
        Ok(true)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        self.tick();
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Value)]) -> Result<()> {
        self.tick();
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        self.tick();
        Ok(&self.1)
    }
}
