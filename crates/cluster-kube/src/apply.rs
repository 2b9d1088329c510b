//! Applying a plan until the cluster settles: run the steps; when one hits
//! an object that changed (a conflict) or vanished, or once all ran, read
//! the cluster again and plan again, until the plan is empty. A run cut
//! short (by a crash, a Ctrl-C, a lost connection) is finished by running
//! again: objects already created are seen and not created twice.

use std::fmt;

use kube::Client;
use vmbackup_backupstore::Target;
use vmbackup_engine::{Step, View};

use crate::error::Error;
use crate::execute::Executor;
use crate::load::{LoadOptions, load};
use crate::progress::{Progress, Summary};

/// Rounds of apply, read, plan before giving up.
pub const DEFAULT_MAX_ROUNDS: usize = 5;

/// How a plan is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions<'a> {
    /// How the cluster is read again between rounds.
    pub load: LoadOptions,
    /// Rounds before giving up.
    pub max_rounds: usize,
    /// The backup target, for plans that write files on it.
    pub target: Option<&'a Target>,
}

impl Default for ApplyOptions<'_> {
    fn default() -> Self {
        ApplyOptions {
            load: LoadOptions::default(),
            max_rounds: DEFAULT_MAX_ROUNDS,
            target: None,
        }
    }
}

/// An apply that stopped before the cluster settled, with what it had done
/// until then.
#[derive(Debug)]
pub struct Failed {
    /// What was done before the failure.
    pub summary: Summary,
    /// Why it stopped.
    pub error: Error,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (done before stopping: {})", self.error, self.summary)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Applies `first` (planned from a view the caller read), then reads the
/// cluster, plans again with `replan` and applies, until a plan is empty.
///
/// # Errors
///
/// A step that fails for another reason than a stale view, a read that
/// fails, or a plan that does not settle within the rounds allowed (or
/// asks for the same steps again right after they all succeeded).
pub async fn apply<P>(
    client: &Client,
    first: Vec<Step>,
    mut replan: P,
    options: &ApplyOptions<'_>,
    progress: &dyn Progress,
) -> Result<Summary, Failed>
where
    P: FnMut(&View) -> Vec<Step>,
{
    let mut summary = Summary::default();
    let mut steps = first;
    let executor = Executor::new(client)
        .with_target(options.target)
        .with_progress(progress);
    for round in 1..=options.max_rounds.max(1) {
        if steps.is_empty() {
            return Ok(summary);
        }
        summary.rounds = round;
        progress.round(round, steps.len());
        let complete = match executor.run(&steps, &mut summary).await {
            Ok(()) => true,
            Err(e) if e.needs_replan() => {
                tracing::info!(error = %e, "re-reading the cluster and planning again");
                summary.replans += 1;
                progress.replanning(&e);
                false
            }
            Err(e) => {
                return Err(Failed {
                    summary,
                    error: e.into(),
                });
            }
        };
        let loaded = match load(client, &options.load, progress).await {
            Ok(l) => l,
            Err(error) => return Err(Failed { summary, error }),
        };
        let next = replan(&loaded.view);
        if complete && !next.is_empty() && next == steps {
            return Err(not_settled(summary, round, &next));
        }
        steps = next;
    }
    if steps.is_empty() {
        Ok(summary)
    } else {
        let rounds = summary.rounds;
        Err(not_settled(summary, rounds, &steps))
    }
}

/// Reads the cluster, plans with `plan` and applies until settled.
///
/// # Errors
///
/// As [`apply`], and a first read that fails.
pub async fn load_and_apply<P>(
    client: &Client,
    mut plan: P,
    options: &ApplyOptions<'_>,
    progress: &dyn Progress,
) -> Result<Summary, Failed>
where
    P: FnMut(&View) -> Vec<Step>,
{
    let loaded = load(client, &options.load, progress)
        .await
        .map_err(|error| Failed {
            summary: Summary::default(),
            error,
        })?;
    let first = plan(&loaded.view);
    apply(client, first, plan, options, progress).await
}

fn not_settled(summary: Summary, rounds: usize, steps: &[Step]) -> Failed {
    Failed {
        summary,
        error: Error::NotSettled {
            rounds,
            remaining: steps
                .iter()
                .map(|s| format!("{} {}", s.action.verb(), s.action.target()))
                .collect(),
        },
    }
}
