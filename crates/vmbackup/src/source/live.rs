//! A live cluster as the input: `--kubeconfig` / `--context`, or the
//! default kubeconfig when no other input is given. This module is the one
//! place the commands reach a live cluster through: loading its View,
//! executing a repair plan, creating a VMRestore. The work is done by the
//! `vmbackup-kube` crate; this module runs it, shows progress on a terminal
//! and prints the summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vmbackup_api::VirtualMachineRestore;
use vmbackup_engine::{Kind, Object, Step, View};
use vmbackup_kube::resources::LISTED_KINDS;
use vmbackup_kube::{ApplyOptions, Listing, LoadOptions, Outcome, StepError};

use super::error::SourceError;
use super::target::{self, TargetArgs};
use super::{Loaded, Note, Origin};

/// How to reach the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveArgs {
    /// Kubeconfig file; the usual defaults (KUBECONFIG, ~/.kube/config,
    /// in-cluster) when absent.
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig; its current context when absent.
    pub context: Option<String>,
}

/// Why the live cluster could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The I/O runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(std::io::Error),
    /// Reaching or reading the cluster failed.
    #[error(transparent)]
    Kube(#[from] vmbackup_kube::Error),
    /// Applying stopped before the cluster settled.
    #[error(transparent)]
    Apply(Box<vmbackup_kube::Failed>),
    /// The backup target the plan writes to could not be opened.
    #[error(transparent)]
    Target(#[from] target::TargetArgError),
    /// The backup target library refused to open the target.
    #[error("--target {url}: {source}")]
    OpenTarget {
        /// The URL given.
        url: String,
        /// The library's error.
        source: vmbackup_backupstore::Error,
    },
}

impl LiveError {
    /// What to do instead when the cluster cannot be reached at all: empty
    /// for errors that come from a cluster that was reached.
    pub fn hint(&self) -> &'static str {
        use vmbackup_kube::Error as K;
        match self {
            LiveError::Kube(
                K::Kubeconfig { .. }
                | K::NoConfig { .. }
                | K::Client { .. }
                | K::Unreachable { .. },
            ) => {
                "\nname the cluster with --kubeconfig FILE (and --context NAME); without access to it, give its objects with --from DIR (the output of `kubectl get ... -o yaml`) or a support bundle with --bundle FILE"
            }
            _ => "",
        }
    }
}

/// Reads the objects the engine needs from the cluster: every kind the
/// engine reasons about, listed in full with paging (kinds the cluster does
/// not serve or does not let us read are not listed, and said so in the
/// notes), and the Secrets the VMs and restores refer to, read by name.
pub fn load(args: &LiveArgs) -> Result<Loaded, SourceError> {
    run(args, async {
        let client = connect(args).await?;
        let progress = Bar::reading();
        let loaded = vmbackup_kube::load(&client, &LoadOptions::default(), &progress).await;
        progress.finish();
        let loaded = loaded?;
        Ok(Loaded {
            notes: loaded
                .notes()
                .into_iter()
                .map(|message| Note { message })
                .collect(),
            view: loaded.view,
            origin: Origin::Live {
                context: args.context.clone(),
            },
        })
    })
}

/// Executes repair steps on the cluster, in order, idempotently
/// (create-or-get, patches with the `resourceVersion` read, deletes with the
/// `uid` precondition), with progress and a summary; when an object changed
/// underneath, and once all steps ran, the cluster is read again and
/// `replan` gives what is left, until nothing is. Files the plan writes on
/// the backup target go to the `--target` given. Returns the exit code.
pub fn apply(
    args: &LiveArgs,
    target: &TargetArgs,
    steps: &[Step],
    replan: impl FnMut(&View) -> Vec<Step>,
) -> Result<ExitCode, SourceError> {
    if steps.is_empty() {
        println!("nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    run(args, async {
        let client = connect(args).await?;
        let opened = open_target(target).await?;
        let options = ApplyOptions {
            target: opened.as_ref(),
            ..ApplyOptions::default()
        };
        let progress = Bar::applying();
        let done = vmbackup_kube::apply(&client, steps.to_vec(), replan, &options, &progress).await;
        progress.finish();
        let summary = done.map_err(|e| LiveError::Apply(Box::new(e)))?;
        println!("applied: {summary}");
        for line in &summary.differing {
            println!("already there, left as found: {line}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Creates the VMRestore on the cluster (create-or-get by name): a restore
/// of that name already there with the same spec is taken as created; one
/// that differs is an error naming the fields.
pub fn create_restore(args: &LiveArgs, restore: &VirtualMachineRestore) -> Result<(), SourceError> {
    run(args, async {
        let client = connect(args).await?;
        let object = Object::from(restore.clone());
        let outcome = vmbackup_kube::Executor::new(&client)
            .create_or_get(&object)
            .await
            .map_err(vmbackup_kube::Error::from)?;
        match outcome {
            Outcome::AlreadyPresent { differences } if !differences.is_empty() => {
                Err(vmbackup_kube::Error::Differs {
                    target: object.reference(),
                    differences,
                }
                .into())
            }
            _ => Ok(()),
        }
    })
}

/// Runs `work` on a runtime of its own; errors name the context.
fn run<T>(
    args: &LiveArgs,
    work: impl Future<Output = Result<T, LiveError>>,
) -> Result<T, SourceError> {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)
        .and_then(|runtime| runtime.block_on(work));
    result.map_err(|source| SourceError::Live {
        context: args.context.clone(),
        source: Box::new(source),
    })
}

async fn connect(args: &LiveArgs) -> Result<kube::Client, LiveError> {
    Ok(vmbackup_kube::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?)
}

/// The backup target named by `--target`, if any.
async fn open_target(args: &TargetArgs) -> Result<Option<vmbackup_backupstore::Target>, LiveError> {
    let Some(url) = &args.url else {
        return Ok(None);
    };
    let options = target::options(args, url)?;
    vmbackup_backupstore::Target::open(url, &options)
        .await
        .map(Some)
        .map_err(|source| LiveError::OpenTarget {
            url: url.clone(),
            source,
        })
}

/// Progress on standard error when it is a terminal: the kinds read, then
/// the steps of each round.
struct Bar {
    bar: ProgressBar,
    reading: bool,
}

impl Bar {
    fn new(length: u64, reading: bool) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_prefix(if reading {
            "reading the cluster"
        } else {
            "applying"
        });
        Bar { bar, reading }
    }

    /// For a read of the cluster: one unit per kind.
    fn reading() -> Self {
        Bar::new(LISTED_KINDS.len() as u64 + 1, true)
    }

    /// For applying a plan: one unit per step of the current round.
    fn applying() -> Self {
        Bar::new(0, false)
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl vmbackup_kube::Progress for Bar {
    fn listed(&self, kind: Kind, listing: &Listing) {
        self.bar.set_message(format!("{kind}: {listing}"));
        if self.reading {
            self.bar.inc(1);
        }
    }

    fn round(&self, round: usize, steps: usize) {
        self.bar.set_length(steps as u64);
        self.bar.set_position(0);
        if round > 1 {
            self.bar.set_prefix(format!("applying (round {round})"));
        }
    }

    fn step(&self, _index: usize, step: &Step, outcome: &Outcome) {
        let done = match outcome {
            Outcome::AlreadyPresent { .. } => "already there",
            Outcome::AlreadyGone => "already gone",
            _ => "done",
        };
        self.bar.set_message(format!(
            "{} {}: {done}",
            step.action.verb(),
            step.action.target()
        ));
        self.bar.inc(1);
    }

    fn replanning(&self, error: &StepError) {
        self.bar.println(format!(
            "{error}: reading the cluster again and planning what is left"
        ));
    }
}
