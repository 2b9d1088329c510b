//! A live cluster as the input: `--kubeconfig` / `--context`, or the
//! default kubeconfig when no other input is given. This module is the one
//! place the commands reach a live cluster through: loading its View,
//! executing a repair plan, creating a VMRestore.

use std::path::PathBuf;
use std::process::ExitCode;

use vmbackup_api::VirtualMachineRestore;
use vmbackup_engine::Step;

use super::Loaded;
use super::error::SourceError;

/// How to reach the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveArgs {
    /// Kubeconfig file; the usual defaults (KUBECONFIG, ~/.kube/config,
    /// in-cluster) when absent.
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig; its current context when absent.
    pub context: Option<String>,
}

/// Reads the objects the engine needs from the cluster: every kind of
/// [`vmbackup_engine::Kind`] (but target files), listed in full with paging,
/// so the View can treat them all as listed (`View::complete`), with
/// [`super::Origin::Live`] as the origin.
pub fn load(_args: &LiveArgs) -> Result<Loaded, SourceError> {
    Err(SourceError::LiveUnavailable)
}

/// Executes repair steps on the cluster, in order, idempotently
/// (create-or-get, patches with the `resourceVersion` read, deletes with the
/// `uid` precondition), with progress and a summary; returns the exit code.
pub fn apply(_args: &LiveArgs, _steps: &[Step]) -> Result<ExitCode, SourceError> {
    Err(SourceError::LiveUnavailable)
}

/// Creates the VMRestore on the cluster (create-or-get by name).
pub fn create_restore(
    _args: &LiveArgs,
    _restore: &VirtualMachineRestore,
) -> Result<(), SourceError> {
    Err(SourceError::LiveUnavailable)
}
