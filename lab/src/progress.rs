//! Progress on stderr: on a terminal, an indicatif bar per workload with a line above it
//! for each finished phase; elsewhere (a CI log, a pipe) just the lines, one per finished
//! measured phase (variant, threads, repeat, ops/s, elapsed, ETA). `--quiet` silences both.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use acorn_reports::format::{human, threads_text, Unit};

use crate::runner::{Finished, Progress};

/// Where progress goes.
#[derive(Debug)]
enum Sink {
    Quiet,
    Lines,
    Bar(indicatif::ProgressBar),
}

/// Progress of one workload's run.
#[derive(Debug)]
pub struct Bars {
    sink: Sink,
    started: Instant,
}

impl Bars {
    /// A bar on a terminal, lines elsewhere, nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let sink = if quiet {
            Sink::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(1);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            Sink::Bar(bar)
        } else {
            Sink::Lines
        };
        Bars {
            sink,
            started: Instant::now(),
        }
    }

    /// Removes the bar before the table is printed.
    pub fn finish(&self) {
        if let Sink::Bar(b) = &self.sink {
            b.finish_and_clear();
        }
    }
}

/// "[3/8] plain, 2 threads, repeat 1/3: 412.3k ops/s in 2.00 s; ETA 1m 5s".
pub fn line(p: &Finished, elapsed: Duration) -> String {
    let left = p.total.saturating_sub(p.done);
    let eta = if p.done == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(elapsed.as_secs_f64() / p.done as f64 * left as f64)
    };
    format!(
        "[{}/{}] {}, {}, repeat {}/{}: {} in {}; ETA {}",
        p.done,
        p.total,
        p.variant,
        threads_text(p.threads),
        p.repeat,
        p.repeats,
        human(Unit::Rate, p.throughput),
        human(Unit::Time, p.elapsed_s * 1e9),
        humantime::format_duration(Duration::from_secs(eta.as_secs())),
    )
}

impl Progress for Bars {
    fn started(&self, label: &str, done: u64, total: u64) {
        if let Sink::Bar(bar) = &self.sink {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(label.to_owned());
        }
    }

    fn finished(&self, p: &Finished) {
        let text = line(p, self.started.elapsed());
        match &self.sink {
            Sink::Quiet => {}
            Sink::Lines => eprintln!("{text}"),
            Sink::Bar(bar) => {
                bar.println(text);
                bar.set_position(p.done);
            }
        }
    }
}
