//! Whatever is compared runs on the same CPUs. On a VM the virtual CPUs are not alike
//! (each shares its host core with other tenants differently), and a process tends to stay
//! on the CPU it started on: two `lab ab` workers on different CPUs differed by up to 7%
//! for their whole lives, in either direction (docs/ab.md). So every `lab ab` request
//! names the CPUs to run on, the same for both sides, and a worker pins its main thread
//! to them (the slice's threads, started from it, inherit the mask); successive pairs of
//! processes take the CPUs in turn, so every CPU is measured on. `lab run`'s paired
//! rounds (`runner::paired`) pin every variant's slice of a round the same way.

/// The CPUs this process may run on (all of them where that cannot be asked).
pub fn cpus() -> Vec<usize> {
    imp::cpus()
}

/// The CPUs pair number `pair` of workers with `threads` threads each runs on: `threads`
/// of `cpus` (all of them when there are fewer), starting at `pair`'s turn.
pub fn for_pair(cpus: &[usize], pair: usize, threads: usize) -> Vec<usize> {
    let n = cpus.len();
    if n == 0 || threads >= n {
        return cpus.to_vec();
    }
    (0..threads).map(|i| cpus[(pair + i) % n]).collect()
}

/// Runs `f` with the calling thread pinned to `set` (threads and processes it starts
/// inherit it), then restores the thread's CPUs. Where pinning is not possible, or `set`
/// is empty, just runs `f`.
pub fn with_cpus<T>(set: &[usize], f: impl FnOnce() -> T) -> T {
    imp::with_cpus(set, f)
}

/// Pins the calling thread to `set` for good (nothing where that is not possible, or
/// `set` is empty).
pub fn pin(set: &[usize]) {
    imp::pin(set);
}

#[cfg(target_os = "linux")]
mod imp {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;

    pub fn cpus() -> Vec<usize> {
        let all = || (0..std::thread::available_parallelism().map_or(1, usize::from)).collect();
        match sched_getaffinity(Pid::from_raw(0)) {
            Ok(set) => {
                let mine: Vec<usize> = (0..CpuSet::count())
                    .filter(|&c| set.is_set(c).unwrap_or(false))
                    .collect();
                if mine.is_empty() {
                    all()
                } else {
                    mine
                }
            }
            Err(_) => all(),
        }
    }

    /// Pins the calling thread to `set`; whether it did.
    pub fn pin(set: &[usize]) -> bool {
        let mut wanted = CpuSet::new();
        for &c in set {
            let _ = wanted.set(c);
        }
        !set.is_empty() && sched_setaffinity(Pid::from_raw(0), &wanted).is_ok()
    }

    pub fn with_cpus<T>(set: &[usize], f: impl FnOnce() -> T) -> T {
        let Ok(saved) = sched_getaffinity(Pid::from_raw(0)) else {
            return f();
        };
        let pinned = pin(set);
        let out = f();
        if pinned {
            let _ = sched_setaffinity(Pid::from_raw(0), &saved);
        }
        out
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn cpus() -> Vec<usize> {
        (0..std::thread::available_parallelism().map_or(1, usize::from)).collect()
    }

    pub fn pin(_: &[usize]) -> bool {
        false
    }

    pub fn with_cpus<T>(_: &[usize], f: impl FnOnce() -> T) -> T {
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_take_the_cpus_in_turn() {
        let cpus = [0, 1, 2, 3];
        assert_eq!(for_pair(&cpus, 0, 1), [0]);
        assert_eq!(for_pair(&cpus, 1, 1), [1]);
        assert_eq!(for_pair(&cpus, 5, 1), [1]);
        assert_eq!(for_pair(&cpus, 3, 2), [3, 0]);
        assert_eq!(for_pair(&cpus, 2, 4), [0, 1, 2, 3]);
        assert_eq!(for_pair(&cpus, 2, 8), [0, 1, 2, 3]);
        assert_eq!(for_pair(&[], 0, 1), Vec::<usize>::new());
    }

    #[test]
    fn threads_started_while_pinned_run_there_and_the_caller_is_let_go() {
        let mine = cpus();
        assert!(!mine.is_empty());
        let one = [mine[mine.len() - 1]];
        let (inside, child) = with_cpus(&one, || {
            (cpus(), std::thread::spawn(cpus).join().unwrap_or_default())
        });
        if cfg!(target_os = "linux") {
            assert_eq!((inside, child), (one.to_vec(), one.to_vec()));
        }
        assert_eq!(cpus(), mine);
        assert_eq!(with_cpus(&[], cpus), mine);
        let pinned = std::thread::spawn(move || {
            pin(&one);
            cpus()
        });
        if cfg!(target_os = "linux") {
            assert_eq!(pinned.join().unwrap_or_default(), one);
        }
    }
}
