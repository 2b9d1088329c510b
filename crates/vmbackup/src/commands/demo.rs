//! `vmbackup demo`: the whole story on the embedded simulated cluster, with
//! real backups written to a local target, in a temporary directory and
//! with no network.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use vmbackup_sim::demo::{self, Report, StepReport};

use crate::output::Format;

/// Arguments of `vmbackup demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the step report as JSON (or YAML) instead of a step log.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Run in this directory and keep it (the clusters' volumes, the backup
    /// target and the exported disks), instead of a temporary directory
    /// that is removed at the end. It must be empty or not exist.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// The JSON/YAML report.
#[derive(Debug, Serialize)]
struct Output<'a> {
    ok: bool,
    seconds: f64,
    steps: &'a [StepReport],
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("vmbackup-demo-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot create the demo directory {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn prepare(keep: &Path) -> anyhow::Result<()> {
    if keep.exists() {
        let empty = std::fs::read_dir(keep)
            .with_context(|| format!("cannot read {}", keep.display()))?
            .next()
            .is_none();
        anyhow::ensure!(empty, "{} is not empty", keep.display());
    } else {
        std::fs::create_dir_all(keep)
            .with_context(|| format!("cannot create {}", keep.display()))?;
    }
    Ok(())
}

/// On Ctrl-C, removes the temporary directory before exiting (130), so an
/// interrupted demo leaves nothing behind.
fn remove_on_interrupt(dir: PathBuf) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!("interrupted: removed {}", dir.display());
            std::process::exit(130);
        }
    });
}

fn spinner() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// Runs the demo and prints its step log or report.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scratch;
    let dir = match &args.keep {
        Some(keep) => {
            prepare(keep)?;
            keep.clone()
        }
        None => {
            scratch = Scratch::new()?;
            remove_on_interrupt(scratch.0.clone());
            scratch.0.clone()
        }
    };
    let log = args.output == Format::Table;
    if log {
        println!(
            "vmbackup demo: simulated Harvester clusters with Longhorn and KubeVirt, running the vmbackup engine"
        );
        println!("working directory: {}", dir.display());
    }
    let bar = spinner();
    let mut say = |line: &str| {
        if let Some(bar) = &bar
            && let Some(step) = line.strip_prefix('[')
        {
            bar.set_message(format!("[{step}"));
        }
        if log {
            match &bar {
                Some(bar) => bar.suspend(|| println!("{line}")),
                None => println!("{line}"),
            }
        }
    };
    let report = demo::run(&dir, &mut say);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_report(&report, args.output)?;
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

fn print_report(report: &Report, format: Format) -> anyhow::Result<()> {
    let passed = report.steps.iter().filter(|s| s.ok).count();
    let out = Output {
        ok: report.ok(),
        seconds: (report.seconds * 10.0).round() / 10.0,
        steps: &report.steps,
    };
    match format {
        Format::Table => {
            println!();
            for (i, s) in report.steps.iter().enumerate() {
                println!(
                    "{} {}. {}",
                    if s.ok { "PASS" } else { "FAIL" },
                    i + 1,
                    s.name
                );
            }
            println!(
                "{passed}/{} steps passed in {:.1} s",
                report.steps.len(),
                out.seconds
            );
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        Format::Yaml => print!("{}", crate::yaml::to_string(&out)?),
    }
    Ok(())
}
