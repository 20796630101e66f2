//! The process's resident memory as the kernel reports it (`VmRSS` in `/proc/self/status`,
//! Linux), recorded after each load beside the counting allocator's bytes per item.

/// This process's resident set size in bytes; `None` where `/proc` does not say.
pub fn resident_bytes() -> Option<u64> {
    vm_rss(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let kib = line.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?;
        kib.trim().parse::<u64>().ok().map(|k| k * 1024)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_from_proc_status() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nVmSize:\t 4096 kB\n";
        assert_eq!(vm_rss(status), Some(1024 * 1024));
        assert_eq!(vm_rss("Name:\tx\nVmSize:\t 4096 kB\n"), None);
        assert_eq!(vm_rss("VmRSS:\t  many kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let rss = resident_bytes().expect("Linux reports VmRSS");
        assert!(rss > 1024 * 1024, "{rss}");
    }
}
