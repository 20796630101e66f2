//! `noop`: stores nothing and does nothing, so a run against it measures the harness itself
//! (operation generation, dispatch, latency recording).

use super::{Backend, BackendInfo, Measures, Options, Page, QuerySpec, Registration, Result, Role, Tier, Version, Worker};
use crate::doc::Value;

pub(crate) const REGISTRATIONS: &[Registration] = &[Registration {
    name: "noop",
    about: "stores nothing: measures the harness itself",
    tier: Tier::Memory,
    version: Version::None,
    measures: Measures::All,
    role: Role::Fixture,
    open,
}];

fn open(_: &Registration, _: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(Noop))
}

#[derive(Default)]
pub(crate) struct Noop;

/// A worker that does nothing (it keeps an empty page to hand out).
#[derive(Default)]
struct NoopWorker {
    page: Page,
}

impl Backend for Noop {
    fn name(&self) -> &str {
        "noop"
    }

    fn describe(&self) -> BackendInfo {
        BackendInfo {
            name: "noop".into(),
            store: "none".into(),
            durability: "none (stores nothing)".into(),
            serialization: "none".into(),
            cache: "none".into(),
            stores_data: false,
            rust_heap: true,
        }
    }

    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(NoopWorker::default())
    }
}

impl Worker for NoopWorker {
    fn insert(&mut self, _key: &[u8], _value: &Value) -> Result<()> {
        Ok(())
    }

    fn read(&mut self, _key: &[u8]) -> Result<Option<&Value>> {
        Ok(None)
    }

    fn update(&mut self, _key: &[u8], _value: &Value) -> Result<()> {
        Ok(())
    }

    fn delete(&mut self, _key: &[u8]) -> Result<bool> {
        Ok(false)
    }

    fn scan(&mut self, _start: &[u8], _limit: usize) -> Result<usize> {
        Ok(0)
    }

    fn batch_insert(&mut self, _items: &[(Vec<u8>, Value)]) -> Result<()> {
        Ok(())
    }

    fn query(&mut self, _q: &QuerySpec) -> Result<&Page> {
        Ok(&self.page)
    }
}
