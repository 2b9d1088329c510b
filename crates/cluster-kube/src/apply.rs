//! Applying a plan until the cluster settles: run the steps; when one hits
//! an object that changed (a conflict) or vanished, or once all ran, read
//! the cluster again and plan again, until the plan is empty. A run cut
//! short (by a crash, a Ctrl-C, a lost connection) is finished by running
//! again: objects already created are seen and not created twice.

use std::collections::BTreeSet;
use std::fmt;

use kube::Client;
use vmbackup_backupstore::Target;
use vmbackup_engine::{Action, Step, View};

use crate::error::{Error, StepError};
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
    let mut files = FilesDone::default();
    let executor = Executor::new(client)
        .with_target(options.target)
        .with_progress(progress);
    for round in 1..=options.max_rounds.max(1) {
        if steps.is_empty() {
            return Ok(summary);
        }
        summary.rounds = round;
        progress.round(round, steps.len());
        let result = executor.run(&steps, &mut summary).await;
        files.record(&steps, result.as_ref().err().map(StepError::index));
        let complete = match result {
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
        let next = files.drop_done(replan(&loaded.view));
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

/// Target-file steps already carried out. The plan is made again from a
/// fresh read of the cluster, but the facts about the backup target are the
/// caller's, read once: a file this apply wrote (or deleted) would be
/// planned again and again. Such steps are dropped from later plans.
#[derive(Debug, Default)]
struct FilesDone {
    written: BTreeSet<(String, String)>,
    deleted: BTreeSet<String>,
}

impl FilesDone {
    /// Records the file steps of `steps` that ran (all of them, or those
    /// before the failed step `failed_at`).
    fn record(&mut self, steps: &[Step], failed_at: Option<usize>) {
        let ran = failed_at.unwrap_or(steps.len());
        for step in &steps[..ran.min(steps.len())] {
            match &step.action {
                Action::WriteTargetFile { path, contents } => {
                    self.deleted.remove(path);
                    self.written.insert((path.clone(), contents.clone()));
                }
                Action::DeleteTargetFile { path } => {
                    self.written.retain(|(p, _)| p != path);
                    self.deleted.insert(path.clone());
                }
                _ => {}
            }
        }
    }

    fn drop_done(&self, steps: Vec<Step>) -> Vec<Step> {
        steps
            .into_iter()
            .filter(|s| match &s.action {
                Action::WriteTargetFile { path, contents } => {
                    !self.written.contains(&(path.clone(), contents.clone()))
                }
                Action::DeleteTargetFile { path } => !self.deleted.contains(path),
                _ => true,
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::{Kind, ObjectRef, Precondition, Reconciler};

    fn step(action: Action) -> Step {
        Step {
            action,
            reason: String::new(),
            reconciler: Reconciler::Backup,
        }
    }

    fn write(contents: &str) -> Step {
        step(Action::WriteTargetFile {
            path: "harvester/vmbackups/default/b.cfg".into(),
            contents: contents.into(),
        })
    }

    #[test]
    fn files_written_are_not_planned_again_unless_their_contents_change() {
        let delete = step(Action::Delete {
            target: ObjectRef::namespaced(Kind::VolumeSnapshot, "default", "s"),
            precondition: Precondition::none(),
        });
        let mut done = FilesDone::default();
        done.record(&[delete.clone(), write("a")], None);
        assert_eq!(
            done.drop_done(vec![write("a"), write("b"), delete.clone()]),
            [write("b"), delete.clone()]
        );
        // A step that did not run (the run stopped before it) stays.
        let mut partial = FilesDone::default();
        partial.record(&[delete, write("a")], Some(0));
        assert_eq!(partial.drop_done(vec![write("a")]), [write("a")]);
    }
}
