//! Async backends keep `in_flight` operations going on each thread.

use super::*;

/// A backend with an async API whose writes each yield once before completing, counting
/// how many are pending at the same moment.
struct Overlap {
    pending: AtomicU64,
    most: AtomicU64,
    done: AtomicU64,
}

impl Backend for Overlap {
    fn name(&self) -> &str {
        "overlap"
    }
    fn describe(&self) -> BackendInfo {
        test_info("overlap", false)
    }
    fn worker(&self) -> Box<dyn Worker + '_> {
        Box::new(NoopWorker::default())
    }
    fn async_worker(&self) -> Option<Box<dyn AsyncWorker + '_>> {
        Some(Box::new(OverlapWorker(self, NoopWorker::default())))
    }
}

#[derive(Default)]
struct NoopWorker(Page);

impl Worker for NoopWorker {
    fn insert(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &[u8]) -> Result<Option<&Value>> {
        Ok(None)
    }
    fn update(&mut self, _: &[u8], _: &Value) -> Result<()> {
        Ok(())
    }
    fn delete(&mut self, _: &[u8]) -> Result<bool> {
        Ok(false)
    }
    fn scan(&mut self, _: &[u8], _: usize) -> Result<usize> {
        Ok(0)
    }
    fn batch_insert(&mut self, _: &[(Vec<u8>, Value)]) -> Result<()> {
        Ok(())
    }
    fn query(&mut self, _: &QuerySpec) -> Result<&Page> {
        Ok(&self.0)
    }
}

struct OverlapWorker<'a>(&'a Overlap, NoopWorker);

impl OverlapWorker<'_> {
    fn write(&self) -> LocalFuture<'_, Result<()>> {
        let o = self.0;
        let now = o.pending.fetch_add(1, Ordering::SeqCst) + 1;
        o.most.fetch_max(now, Ordering::SeqCst);
        let mut yielded = false;
        Box::pin(std::future::poll_fn(move |cx| {
            if yielded {
                o.pending.fetch_sub(1, Ordering::SeqCst);
                o.done.fetch_add(1, Ordering::SeqCst);
                std::task::Poll::Ready(Ok(()))
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }))
    }
}

impl AsyncWorker for OverlapWorker<'_> {
    fn insert<'a>(&'a mut self, _: &'a [u8], _: &'a Value) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn update<'a>(&'a mut self, _: &'a [u8], _: &'a Value) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn delete<'a>(&'a mut self, _: &'a [u8]) -> LocalFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
    fn batch_insert<'a>(&'a mut self, _: &'a [(Vec<u8>, Value)]) -> LocalFuture<'a, Result<()>> {
        self.write()
    }
    fn blocking(&mut self) -> &mut dyn Worker {
        &mut self.1
    }
}

#[test]
fn async_backends_keep_in_flight_operations_going_per_thread() {
    for (in_flight, want) in [(1u64, 1u64), (8, 8)] {
        let b = Overlap {
            pending: AtomicU64::new(0),
            most: AtomicU64::new(0),
            done: AtomicU64::new(0),
        };
        let src = format!(
            "name = \"t\"\nvariants = [\"noop\"]\n[dataset]\nrecords = 100\n[run]\nops = 500\n\
             warmup = \"0s\"\nin_flight = {in_flight}\n[mix]\nupdate = 100\n"
        );
        let plan = Plan::parse(Path::new("t.toml"), &src).unwrap();
        let clock = FakeClock::default();
        let p = run_phase(&b, &plan, 2, false, &clock, &AtomicBool::new(false));
        // 500 operations per thread, each recorded once, every write completed.
        assert_eq!(p.recorded.latencies(OpKind::Update).len(), 1000);
        assert_eq!(b.done.load(Ordering::SeqCst), 1000);
        // Per thread at most `in_flight` at once; two threads may overlap.
        let most = b.most.load(Ordering::SeqCst);
        assert!(
            most >= want && most <= 2 * want,
            "in_flight {in_flight}: {most} at once"
        );
    }
}
