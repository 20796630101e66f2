//! Open and closed loop under a stalling backend: a stall is charged to every operation it
//! delayed (open loop) or once (closed loop); errors are counted; waits end on time and on a
//! stop request.

use super::*;

fn slow_ops(rate: &str) -> (u64, u64) {
    let clock = Arc::new(FakeClock::default());
    let b = Stall::new(&clock, 100, 50_000_000);
    let p = run_phase(
        &b,
        &plan(rate),
        1,
        false,
        clock.as_ref(),
        &AtomicBool::new(false),
    );
    let h = p.recorded.latencies(OpKind::Read);
    (h.len(), h.count_between(10_000_000, u64::MAX))
}

#[test]
fn open_loop_charges_a_stall_to_every_operation_it_delayed() {
    // 1000 ops/s: one operation due every 1 ms; the 50 ms stall delays the next ~50.
    let (n, slow) = slow_ops("rate = 1000");
    assert_eq!(n, 1000);
    assert!(
        (40..=51).contains(&slow),
        "open loop saw {slow} slow operations"
    );
    // Closed loop only sees the one stalled operation: coordinated omission.
    let (n, slow) = slow_ops("");
    assert_eq!((n, slow), (1000, 1));
}

#[test]
fn backend_errors_are_counted_per_operation_not_unwrapped() {
    let clock = Arc::new(FakeClock::default());
    let b = Stall::new(&clock, u64::MAX, 0).failing_deletes();
    let mut p = plan("");
    p.mix = Mix(vec![(OpKind::Read, 50), (OpKind::Delete, 50)]);
    let r = run_phase(&b, &p, 2, false, clock.as_ref(), &AtomicBool::new(false));
    let deletes = r.recorded.latencies(OpKind::Delete).len();
    assert!(deletes > 0);
    let (failed, samples) = r.recorded.failures(OpKind::Delete);
    assert_eq!(failed, deletes);
    assert_eq!(samples, ["backend stall: disk on fire"]);
    assert_eq!(r.recorded.failures(OpKind::Read).0, 0);
    assert_eq!(r.recorded.ops(), 2000);
}

#[test]
fn an_open_loop_phase_never_waits_past_its_end_for_a_scheduled_operation() {
    // 1 op/s and a 300 ms phase: the second operation would be due at 1 s, after the end.
    let clock = Arc::new(FakeClock::default());
    let b = Stall::new(&clock, u64::MAX, 0);
    let p = plan("rate = 1").clone();
    let mut p = p;
    p.run.bound = acorn_lab::workload::Bound::Duration(std::time::Duration::from_millis(300));
    let r = run_phase(&b, &p, 1, false, clock.as_ref(), &AtomicBool::new(false));
    assert_eq!(r.recorded.ops(), 1, "only the operation due at the start");
    assert!(
        clock.now_ns() <= 300_000_000,
        "the phase waited until {} ns",
        clock.now_ns()
    );
    assert!(r.elapsed_ns <= 300_000_000);
}

#[test]
fn a_stop_request_ends_an_open_loop_wait() {
    // One operation per 1000 s: the wait for the second must end at the stop request,
    // not when the operation falls due (a real clock; the stop comes 50 ms in).
    let stop = Arc::new(AtomicBool::new(false));
    let b = acorn_lab::backend::open("noop", &acorn_lab::backend::Options::default()).unwrap();
    let mut p = plan("rate = 1");
    p.run.bound = acorn_lab::workload::Bound::Duration(std::time::Duration::from_secs(3600));
    p.run.rate = Some(0.001);
    let flag = Arc::clone(&stop);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        flag.store(true, Ordering::SeqCst);
    });
    let clock = acorn_lab::runner::clock::RealClock::default();
    let r = run_phase(b.as_ref(), &p, 1, false, &clock, &stop);
    stopper.join().unwrap();
    assert!(r.stopped);
    assert!(
        clock.now_ns() < 60_000_000_000,
        "waited {} ns",
        clock.now_ns()
    );
}
