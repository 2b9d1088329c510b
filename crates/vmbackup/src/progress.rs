//! Progress of long operations on standard error: a bar on a terminal,
//! nothing when piped (unless plain lines are asked for, for logs).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vmbackup_backupstore::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when standard error is a terminal, nothing otherwise.
    #[default]
    Auto,
    /// Always a bar.
    Bar,
    /// A line at every tenth of the work (and at least every 10 s): for logs.
    Plain,
    /// Nothing.
    None,
}

/// Receives the progress callbacks of the backup target library and shows
/// them as the mode says.
#[derive(Debug)]
pub struct Reporter {
    label: String,
    display: Display,
}

#[derive(Debug)]
enum Display {
    Bar(ProgressBar),
    Plain(Plain),
    Silent,
}

#[derive(Debug)]
struct Plain {
    total: AtomicU64,
    done: AtomicU64,
    /// The phase under way, if the operation named one.
    phase: Mutex<Option<String>>,
    /// Last tenth printed and when.
    last: Mutex<(u64, Instant)>,
}

impl Plain {
    /// Prints one progress line: `<label>: <percent>% (<done> of <total>)`.
    fn print(&self, base: &str, done: u64, total: u64) {
        eprintln!(
            "{}: {}% ({} of {})",
            self.label(base),
            done.min(total) * 100 / total.max(1),
            human_bytes(done),
            human_bytes(total)
        );
    }

    /// The operation's label, with the phase under way if any.
    fn label(&self, base: &str) -> String {
        match self.phase.lock().ok().and_then(|p| p.clone()) {
            Some(phase) => format!("{base} ({phase})"),
            None => base.to_owned(),
        }
    }
}

/// Longest time between two plain progress lines.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

impl Reporter {
    /// A reporter for an operation named `label` (e.g. `export`).
    pub fn new(mode: ProgressMode, label: &str) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::None,
            other => other,
        };
        let display = match mode {
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{bar:32}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(label.to_owned());
                Display::Bar(bar)
            }
            ProgressMode::Plain => Display::Plain(Plain {
                total: AtomicU64::new(0),
                done: AtomicU64::new(0),
                phase: Mutex::new(None),
                last: Mutex::new((0, Instant::now())),
            }),
            ProgressMode::Auto | ProgressMode::None => Display::Silent,
        };
        Reporter {
            label: label.to_owned(),
            display,
        }
    }

    /// Removes the bar (call when the operation ends, however it ends).
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for Reporter {
    /// Sets the total; the count of work done carries on (an operation may
    /// raise its total when it discovers more work).
    fn start(&self, total: u64) {
        match &self.display {
            Display::Bar(bar) => bar.set_length(total),
            Display::Plain(p) => {
                p.total.store(total, Ordering::SeqCst);
                let done = p.done.load(Ordering::SeqCst).min(total);
                let tenth = done * 10 / total.max(1);
                if let Ok(mut last) = p.last.lock() {
                    *last = (tenth, Instant::now());
                }
                p.print(&self.label, done, total);
            }
            Display::Silent => {}
        }
    }

    /// A new phase: the bar or the lines name it, and count from zero
    /// against its own total, so a percentage never goes back.
    fn phase(&self, name: &str, total: u64) {
        match &self.display {
            Display::Bar(bar) => {
                bar.set_message(format!("{} ({name})", self.label));
                bar.set_length(total);
                bar.set_position(0);
            }
            Display::Plain(p) => {
                p.total.store(total, Ordering::SeqCst);
                p.done.store(0, Ordering::SeqCst);
                if let Ok(mut phase) = p.phase.lock() {
                    *phase = Some(name.to_owned());
                }
                if let Ok(mut last) = p.last.lock() {
                    *last = (0, Instant::now());
                }
                p.print(&self.label, 0, total);
            }
            Display::Silent => {}
        }
    }

    fn advance(&self, bytes: u64) {
        match &self.display {
            Display::Bar(bar) => bar.inc(bytes),
            Display::Plain(p) => {
                let done = p.done.fetch_add(bytes, Ordering::SeqCst) + bytes;
                let total = p.total.load(Ordering::SeqCst).max(1);
                let tenth = (done.min(total) * 10 / total).min(10);
                if let Ok(mut last) = p.last.lock()
                    && (tenth > last.0 || last.1.elapsed() >= PLAIN_INTERVAL)
                {
                    *last = (tenth, Instant::now());
                    p.print(&self.label, done, total);
                }
            }
            Display::Silent => {}
        }
    }
}

/// A byte count in binary units, e.g. `1.5 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2 << 20), "2.0 MiB");
        assert_eq!(human_bytes(10 << 30), "10.0 GiB");
    }

    #[test]
    fn a_phase_counts_from_zero_against_its_own_total() {
        let r = Reporter::new(ProgressMode::Plain, "import");
        r.phase("read", 100);
        r.advance(100);
        r.phase("upload", 20);
        r.advance(10);
        let Display::Plain(p) = &r.display else {
            panic!("not plain")
        };
        assert_eq!(p.done.load(Ordering::SeqCst), 10);
        assert_eq!(p.total.load(Ordering::SeqCst), 20);
        assert_eq!(p.last.lock().unwrap().0, 5);
        assert_eq!(p.label("import"), "import (upload)");
    }

    #[test]
    fn plain_reporter_counts_across_restarts() {
        let r = Reporter::new(ProgressMode::Plain, "import");
        r.start(100);
        r.advance(60);
        r.start(200);
        r.advance(40);
        let Display::Plain(p) = &r.display else {
            panic!("not plain")
        };
        assert_eq!(p.done.load(Ordering::SeqCst), 100);
        assert_eq!(p.last.lock().unwrap().0, 5);
    }
}
