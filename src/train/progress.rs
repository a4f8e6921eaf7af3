//! The per-epoch progress bar on stderr (indicatif), hidden when stderr is not a terminal or
//! when progress is off, so logs and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over the `n_batches` batches of epoch `epoch` (1-based).
pub fn epoch_bar(n_batches: usize, epoch: usize, show: bool) -> ProgressBar {
    let bar = ProgressBar::new(n_batches as u64);
    if !show || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    let style =
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(epoch.to_string());
    bar
}
