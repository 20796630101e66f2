//! The machine fingerprint stored with every result.

use acorn_reports::Machine;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

pub fn fingerprint() -> Machine {
    let cpu = read("/proc/cpuinfo")
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let kernel = read("/proc/sys/kernel/osrelease").unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        os: format!("{} {}", std::env::consts::OS, kernel)
            .trim()
            .to_owned(),
        rustc: env!("LAB_RUSTC_VERSION").to_owned(),
        git_revision: env!("LAB_GIT_REVISION").to_owned(),
        hostname: read("/proc/sys/kernel/hostname").unwrap_or_default(),
    }
}

/// The 1-minute load average (`/proc/loadavg`), where it can be read.
pub fn load_average() -> Option<f64> {
    read("/proc/loadavg")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Memory the lab can still use, in bytes, and where that figure came from: `MemAvailable`
/// from /proc/meminfo, lowered to a cgroup's limit (v2 `memory.max` − `memory.current`)
/// when one is set. `None` where neither can be read (not Linux).
pub fn available_memory() -> Option<(u64, &'static str)> {
    let meminfo = read("/proc/meminfo").and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let number = |p: &str| read(p).and_then(|v| v.parse::<u64>().ok());
    let cgroup = number("/sys/fs/cgroup/memory.max")
        .map(|max| max.saturating_sub(number("/sys/fs/cgroup/memory.current").unwrap_or(0)));
    match (meminfo, cgroup) {
        (Some(m), Some(c)) if c < m => Some((c, "the cgroup's memory.max")),
        (Some(m), _) => Some((m, "MemAvailable in /proc/meminfo")),
        (None, Some(c)) => Some((c, "the cgroup's memory.max")),
        (None, None) => None,
    }
}
