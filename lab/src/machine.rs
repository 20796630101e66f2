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

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
