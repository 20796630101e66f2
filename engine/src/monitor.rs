//! Runtime monitors from the seed guide: operations per second over a sliding window, and
//! the process's memory as the kernel reports it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counts operations and reports their rate over a trailing window.
#[derive(Debug)]
pub struct PerformanceMonitor {
    window: Duration,
    slot: Duration,
    started: Instant,
    total: AtomicU64,
    /// (slot start, count) for the slots inside the window, oldest first.
    slots: Mutex<VecDeque<(Instant, u64)>>,
}

/// A reading of a [`PerformanceMonitor`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Operations recorded since the monitor was created.
    pub total_operations: u64,
    /// Rate over the trailing window (or since start, if that is shorter).
    pub operations_per_second: f64,
    /// Time since the monitor was created.
    pub elapsed: Duration,
    /// Resident memory of the process, when the platform reports it.
    pub memory_usage_bytes: Option<u64>,
}

impl Default for PerformanceMonitor {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl PerformanceMonitor {
    /// A monitor averaging over `window` (in ten slots).
    pub fn new(window: Duration) -> Self {
        let window = window.max(Duration::from_millis(10));
        Self {
            window,
            slot: window / 10,
            started: Instant::now(),
            total: AtomicU64::new(0),
            slots: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts one operation now. Takes a short mutex: fine beside real work, too costly
    /// for a per-operation counter on a hot multi-threaded path (count in batches with
    /// [`PerformanceMonitor::record_n`] there).
    pub fn record(&self) {
        self.record_n(1);
    }

    /// Counts `n` operations now.
    pub fn record_n(&self, n: u64) {
        self.record_at(Instant::now(), n);
    }

    fn record_at(&self, at: Instant, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.back_mut() {
            Some((start, count)) if at.duration_since(*start) < self.slot => *count += n,
            _ => slots.push_back((at, n)),
        }
        while slots
            .front()
            .is_some_and(|(s, _)| at.duration_since(*s) > self.window)
        {
            slots.pop_front();
        }
    }

    /// Operations recorded since the monitor was created.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Operations per second over the trailing window.
    pub fn ops_per_second(&self) -> f64 {
        self.rate_at(Instant::now())
    }

    fn rate_at(&self, now: Instant) -> f64 {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let since = now
            .checked_sub(self.window)
            .unwrap_or(self.started)
            .max(self.started);
        let count: u64 = slots
            .iter()
            .filter(|(s, _)| *s >= since)
            .map(|(_, c)| c)
            .sum();
        let span = now.duration_since(since).as_secs_f64();
        if span > 0.0 {
            count as f64 / span
        } else {
            0.0
        }
    }

    /// Total, rate, elapsed time and resident memory, read now.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            total_operations: self.total(),
            operations_per_second: self.ops_per_second(),
            elapsed: self.started.elapsed(),
            memory_usage_bytes: ResourceMonitor::memory_usage()
                .ok()
                .map(|m| m.resident_bytes),
        }
    }
}

/// Memory of this process, from `/proc/self/status` (Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Resident set size (VmRSS).
    pub resident_bytes: u64,
    /// Peak resident set size (VmHWM).
    pub peak_resident_bytes: u64,
    /// Virtual size (VmSize).
    pub virtual_bytes: u64,
    /// Heap and other private data mappings (VmData).
    pub data_bytes: u64,
    /// Main thread stack (VmStk).
    pub stack_bytes: u64,
}

/// Reads process resource usage.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResourceMonitor;

impl ResourceMonitor {
    /// The process's memory, or an `Io` error where `/proc` is unavailable.
    pub fn memory_usage() -> crate::Result<MemoryUsage> {
        let text = std::fs::read_to_string("/proc/self/status")?;
        Ok(parse_status(&text))
    }
}

fn parse_status(text: &str) -> MemoryUsage {
    let mut m = MemoryUsage::default();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let kib: u64 = rest
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0);
        let field = match name {
            "VmRSS" => &mut m.resident_bytes,
            "VmHWM" => &mut m.peak_resident_bytes,
            "VmSize" => &mut m.virtual_bytes,
            "VmData" => &mut m.data_bytes,
            "VmStk" => &mut m.stack_bytes,
            _ => continue,
        };
        *field = kib * 1024;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_counts_only_the_window() {
        let m = PerformanceMonitor::new(Duration::from_secs(1));
        let t0 = m.started;
        m.record_at(t0 + Duration::from_millis(100), 500);
        m.record_at(t0 + Duration::from_millis(1500), 300);
        m.record_at(t0 + Duration::from_millis(1900), 200);
        // Window (1.0 s, 2.0 s]: 500 ops fell out, 500 remain.
        let rate = m.rate_at(t0 + Duration::from_millis(2000));
        assert!((rate - 500.0).abs() < 1e-6, "{rate}");
        assert_eq!(m.total(), 1000);
    }

    #[test]
    fn parses_proc_status() {
        let m = parse_status("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nVmSize:\t 4096 kB\nVmData:\t 512 kB\nVmStk:\t 132 kB\n");
        assert_eq!(m.resident_bytes, 1024 * 1024);
        assert_eq!(m.peak_resident_bytes, 2048 * 1024);
        assert_eq!(m.virtual_bytes, 4096 * 1024);
        assert_eq!(m.data_bytes, 512 * 1024);
        assert_eq!(m.stack_bytes, 132 * 1024);
    }

    #[test]
    fn reads_this_process() {
        let m = ResourceMonitor::memory_usage().unwrap();
        assert!(m.resident_bytes > 0 && m.virtual_bytes >= m.resident_bytes);
    }
}
