//! A long soak of the lock-free point reads: the stress of `tests/point_reads.rs` for as
//! many rounds as asked, with fresh seeds, printing what the readers saw.
//! `cargo run --release -p acorn --example point_soak [minutes] [readers]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/stress.rs"]
mod stress;

use std::time::{Duration, Instant, UNIX_EPOCH};

fn main() {
    let mut args = std::env::args().skip(1);
    let minutes: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let readers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let end = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let mut session = 0u64;
    while Instant::now() < end {
        session += 1;
        let clock = acorn::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let tree = acorn::Tree::builder().clock(clock.clone()).open().unwrap();
        let keys = [300, 3_000, 20_000][(session % 3) as usize];
        let cfg = stress::Config {
            readers,
            rounds: 4,
            keys,
            seed: session.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        let seen = stress::run(&tree, &clock, cfg);
        println!("session {session}: {keys} keys, {readers} readers: {seen:?}");
    }
    println!("{session} sessions without a violation");
}
