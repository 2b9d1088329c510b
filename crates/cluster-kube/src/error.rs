//! What can go wrong talking to a cluster, as typed errors that name the
//! kind, object or step concerned.

use std::path::PathBuf;

use vmbackup_engine::{Kind, ObjectRef};

/// Reaching, reading or changing a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be read, or has no such context.
    #[error("kubeconfig {}{}: {source}", path.as_ref().map_or_else(|| "(default)".to_owned(), |p| p.display().to_string()), context.as_ref().map(|c| format!(", context {c}")).unwrap_or_default())]
    Kubeconfig {
        /// The file given, if any.
        path: Option<PathBuf>,
        /// The context asked for, if any.
        context: Option<String>,
        /// kube's error.
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor an in-cluster service account was found.
    #[error("no cluster to talk to: {source}")]
    NoConfig {
        /// kube's error (both attempts).
        source: kube::config::InferConfigError,
    },
    /// The client could not be built from the configuration (TLS, proxy).
    #[error("cannot build a client for the cluster: {source}")]
    Client {
        /// kube's error.
        source: kube::Error,
    },
    /// The API server could not be reached at all.
    #[error("cannot reach the API server (while listing {kind}): {source}")]
    Unreachable {
        /// The kind being listed.
        kind: Kind,
        /// kube's error.
        source: kube::Error,
    },
    /// Listing a kind failed for a reason other than the kind not being
    /// served or not being allowed.
    #[error("listing {kind} failed: {source}")]
    List {
        /// The kind.
        kind: Kind,
        /// kube's error.
        source: kube::Error,
    },
    /// The API server kept answering with the same continue token.
    #[error("listing {kind}: the API server returned the continue token {token:?} twice")]
    Paging {
        /// The kind.
        kind: Kind,
        /// The repeated token.
        token: String,
    },
    /// Reading one Secret failed for a reason other than it not existing.
    #[error("reading Secret {namespace}/{name} failed: {source}")]
    Secret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// kube's error.
        source: kube::Error,
    },
    /// A step of the plan failed.
    #[error(transparent)]
    Step(#[from] StepError),
    /// Re-planning after every round still gave steps to run.
    #[error(
        "the plan did not settle after {rounds} round(s) of reading, planning and applying; still planned: {}",
        remaining.join("; ")
    )]
    NotSettled {
        /// Rounds run.
        rounds: usize,
        /// The steps the last plan still had.
        remaining: Vec<String>,
    },
    /// The object exists with other contents than the one to create.
    #[error("{target} already exists and differs from the one to create in {}", differences.join(", "))]
    Differs {
        /// The object.
        target: ObjectRef,
        /// Top-level fields (and labels or annotations) that differ.
        differences: Vec<String>,
    },
}

/// One step of a plan could not be carried out. Execution stops there;
/// nothing after it was attempted.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The object changed (or was replaced) since it was read: a
    /// `resourceVersion` or `uid` precondition failed. Read again and
    /// re-plan.
    #[error("step {index} ({step}): {target} changed since it was read: {message}")]
    Conflict {
        /// Index of the step in the plan.
        index: usize,
        /// The step, as `verb target`.
        step: String,
        /// The object.
        target: Box<ObjectRef>,
        /// The API server's message.
        message: String,
    },
    /// The object to patch no longer exists. Read again and re-plan.
    #[error("step {index} ({step}): {target} no longer exists")]
    Gone {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// The object.
        target: Box<ObjectRef>,
    },
    /// The name to create is held by an object that is being deleted.
    #[error("step {index} ({step}): {target} is still being deleted; run again once it is gone")]
    Terminating {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// The object.
        target: Box<ObjectRef>,
    },
    /// The API server refused the request.
    #[error("step {index} ({step}): {source}")]
    Api {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// kube's error.
        source: kube::Error,
    },
    /// The step cannot be sent as it is (an object that does not encode,
    /// a kind that is not a cluster object).
    #[error("step {index} ({step}): {message}")]
    Invalid {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// What is wrong.
        message: String,
    },
    /// A step writes or deletes a file on the backup target, and no target
    /// was opened.
    #[error(
        "step {index} ({step}): the plan changes {path} on the backup target, which was not opened; give the target to apply it"
    )]
    NoTarget {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// The file, from the target root.
        path: String,
    },
    /// A target file step names a file vmbackup does not write.
    #[error(
        "step {index} ({step}): {path} is not a file vmbackup writes on a backup target: {reason}"
    )]
    UnsupportedFile {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The backup target refused the write or delete.
    #[error("step {index} ({step}): backup target: {source}")]
    Target {
        /// Index of the step in the plan.
        index: usize,
        /// The step.
        step: String,
        /// The backup target library's error.
        source: Box<vmbackup_backupstore::Error>,
    },
}

impl StepError {
    /// Whether reading the cluster again and re-planning is the answer
    /// (the view the plan was made from is out of date).
    pub fn needs_replan(&self) -> bool {
        matches!(self, StepError::Conflict { .. } | StepError::Gone { .. })
    }

    /// Index of the failed step in its plan.
    pub fn index(&self) -> usize {
        match self {
            StepError::Conflict { index, .. }
            | StepError::Gone { index, .. }
            | StepError::Terminating { index, .. }
            | StepError::Api { index, .. }
            | StepError::Invalid { index, .. }
            | StepError::NoTarget { index, .. }
            | StepError::UnsupportedFile { index, .. }
            | StepError::Target { index, .. } => *index,
        }
    }
}
