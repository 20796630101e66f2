//! Crash test: a child process writes batches under `SyncPolicy::Always` and `Group`,
//! printing each acknowledged batch; the parent kills it with SIGKILL at a random moment,
//! reopens the directory, and checks that every acknowledged batch is there whole and that
//! no batch is partial, and that the directory stays locked against a second process even
//! after its `LOCK` file is deleted. Runs a few seconds by default; `ACORN_CRASH_SECS=N`
//! runs longer.
//!
//! `harness = false`: this file is its own main, so the same binary can be the child.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acorn::{Error, SyncPolicy, Tree};

const KEYS_PER_BATCH: usize = 3;

fn policy(name: &str) -> SyncPolicy {
    match name {
        "always" => SyncPolicy::Always,
        "group" => SyncPolicy::Group {
            max_delay: Duration::from_millis(1),
        },
        other => panic!("unknown policy {other}"),
    }
}

/// The child: writes until killed. Each line on stdout acknowledges one committed batch.
fn child(dir: &Path, policy_name: &str, round: u32, threads: usize) {
    let tree = Tree::builder()
        .path(dir)
        .sync(policy(policy_name))
        .open()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..threads {
            let tree = tree.clone();
            s.spawn(move || {
                let stdout = std::io::stdout();
                for i in 0u64.. {
                    let mut b = tree.batch();
                    for k in 0..KEYS_PER_BATCH {
                        b.stash(
                            format!("r{round:03}-t{t}-{i:07}-{k}"),
                            format!("value-{round}-{t}-{i}"),
                        );
                    }
                    b.commit().unwrap();
                    writeln!(stdout.lock(), "{round} {t} {i}").unwrap();
                    if t == 0 && i % 700 == 699 {
                        tree.compact().unwrap();
                    }
                }
            });
        }
    });
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Checks the directory against every batch acknowledged so far.
fn verify(dir: &Path, acked: &BTreeSet<(u32, usize, u64)>) -> usize {
    let tree = Tree::open(dir).unwrap();
    let mut batches: BTreeMap<(u32, usize, u64), Vec<Vec<u8>>> = BTreeMap::new();
    for nut in tree.iter() {
        let parts: Vec<&str> = nut.key.split('-').collect();
        let id = (
            parts[0][1..].parse().unwrap(),
            parts[1][1..].parse().unwrap(),
            parts[2].parse().unwrap(),
        );
        batches.entry(id).or_default().push(nut.value.to_vec());
    }
    for (id, values) in &batches {
        assert_eq!(
            values.len(),
            KEYS_PER_BATCH,
            "batch {id:?} is partial after a crash"
        );
        let expect = format!("value-{}-{}-{}", id.0, id.1, id.2).into_bytes();
        assert!(
            values.iter().all(|v| *v == expect),
            "batch {id:?} has wrong values"
        );
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| !batches.contains_key(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged batches lost, first {:?}",
        lost.len(),
        lost.first()
    );
    acked.len()
}

fn parent() {
    let secs: u64 = std::env::var("ACORN_CRASH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let mut total_kills = 0;
    for (policy_name, threads) in [("always", 1), ("group", 4)] {
        let dir = tempfile::tempdir().unwrap();
        let mut acked = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(secs) / 2;
        let mut round = 0u32;
        while Instant::now() < deadline || round < 3 {
            let mut child = Command::new(&exe)
                .args([
                    "--child",
                    dir.path().to_str().unwrap(),
                    policy_name,
                    &round.to_string(),
                    &threads.to_string(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if lines.is_empty() {
                        let _ = tx.send(());
                    }
                    lines.push(line);
                }
                lines
            });
            // Wait for the first acknowledgement, then check the lock holds across processes.
            rx.recv_timeout(Duration::from_secs(20))
                .expect("child acknowledged nothing");
            assert!(
                matches!(Tree::open(dir.path()), Err(Error::Locked { .. })),
                "a second process could open a locked tree"
            );
            // Deleting the LOCK file under the live writer does not unlock the directory.
            std::fs::remove_file(dir.path().join("LOCK")).unwrap();
            assert!(
                matches!(Tree::open(dir.path()), Err(Error::Locked { .. })),
                "a second process could open the tree after LOCK was deleted"
            );
            std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            for line in reader.join().unwrap() {
                // A line cut by the kill was never fully acknowledged.
                let p: Vec<&str> = line.split(' ').collect();
                if p.len() == 3 {
                    if let (Ok(r), Ok(t), Ok(i)) = (p[0].parse(), p[1].parse(), p[2].parse()) {
                        acked.insert((r, t, i));
                    }
                }
            }
            verify(dir.path(), &acked);
            round += 1;
            total_kills += 1;
        }
        println!("crash ({policy_name}, {threads} writer threads): {round} SIGKILLs, {} acknowledged batches all present and whole", acked.len());
    }
    println!("crash test: {total_kills} kills, seed {seed}, 0 acknowledged writes lost");
    println!("1 passed, 0 failed");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let a = &args[at + 1..];
        child(
            Path::new(&a[0]),
            &a[1],
            a[2].parse().unwrap(),
            a[3].parse().unwrap(),
        );
        return;
    }
    // `cargo test -- --list` and filters: this binary holds one test named "crash".
    if args.iter().any(|a| a == "--list") {
        println!("crash: test");
        return;
    }
    if let Some(filter) = args.iter().skip(1).find(|a| !a.starts_with('-')) {
        if !"crash".contains(filter.as_str()) {
            return;
        }
    }
    parent();
}
