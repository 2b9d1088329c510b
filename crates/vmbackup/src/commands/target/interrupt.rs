//! Running an operation so that Ctrl-C (SIGINT) or SIGTERM stops it
//! cleanly: the operation's future is dropped, which removes its temporary
//! files and stops its lock refresher, and its lock file is then given a
//! moment to be removed from the target.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// The signal that stopped an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// The conventional exit status: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        }
    }

    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }
}

/// Runs `operation` until it ends or a signal arrives.
pub async fn run_until_signal<F: Future>(operation: F) -> anyhow::Result<Result<F::Output, Stop>> {
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        biased;
        _ = int.recv() => Ok(Err(Stop::Interrupt)),
        _ = term.recv() => Ok(Err(Stop::Terminate)),
        out = operation => Ok(Ok(out)),
    }
}

/// Lets tasks spawned by a dropped operation (removing its lock file from
/// the target) run to completion, waiting at most `limit`.
pub async fn let_cleanup_finish(limit: Duration) {
    let start = Instant::now();
    let handle = tokio::runtime::Handle::current();
    while handle.metrics().num_alive_tasks() > 0 && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
