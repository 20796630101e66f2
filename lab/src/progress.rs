//! Progress on a terminal: an indicatif bar per workload, drawn on stderr only when it is
//! a terminal and `--quiet` is off.

use std::io::IsTerminal;

use crate::runner::Progress;

/// A progress bar, or nothing.
#[derive(Debug)]
pub struct Bars(Option<indicatif::ProgressBar>);

impl Bars {
    /// A bar on stderr, unless `quiet` or stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Bars(None);
        }
        let bar = indicatif::ProgressBar::new(1);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Bars(Some(bar))
    }

    /// Removes the bar before the table is printed.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn phase(&self, label: &str, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(label.to_owned());
        }
    }
}
