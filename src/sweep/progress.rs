//! The sweep's progress bar on stderr (runs done, cached, failed, ETA), hidden when stderr is not
//! a terminal so logs and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cache::PerStage;

/// A bar over the runs of a sweep with running counts.
pub struct SweepBar {
    bar: ProgressBar,
    cached: usize,
    failed: usize,
}

/// A bar over `n` runs (hidden when `show` is false or stderr is not a terminal).
pub fn sweep_bar(n: usize, show: bool) -> SweepBar {
    let bar = ProgressBar::new(n as u64);
    if !show || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else if let Ok(style) =
        ProgressStyle::with_template("sweep [{bar:30}] {pos}/{len} runs · {msg} · {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    SweepBar { bar, cached: 0, failed: 0 }
}

impl SweepBar {
    /// Counts one finished run: its stages' cache flags, or a failure.
    pub fn record(&mut self, cached: Option<PerStage<bool>>, failed: bool) {
        self.cached += usize::from(cached.is_some_and(|c| c.iter().all(|(_, &c)| c)));
        self.failed += usize::from(failed);
        self.bar.set_message(format!("{} fully cached, {} failed", self.cached, self.failed));
        self.bar.inc(1);
    }

    /// Runs `f` with the bar hidden (for printing a line).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
