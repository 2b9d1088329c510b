//! Progress of reading a large input: a bar on standard error when it is a
//! terminal, nothing when it is piped or redirected.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts units of work (files, volumes) done.
#[derive(Debug)]
pub struct Counter {
    bar: ProgressBar,
}

impl Counter {
    /// A counter of `total` units for the operation `label`.
    pub fn new(label: &str, total: u64) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_owned());
            bar
        } else {
            ProgressBar::hidden()
        };
        Counter { bar }
    }

    /// One more unit done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Done: the bar is cleared.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
