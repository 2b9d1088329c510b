//! Errors of the simulation itself (as opposed to the errors the simulated
//! components report to each other, which become events and statuses).

use std::path::PathBuf;

use crate::store::ApiError;
use crate::target::TargetError;

/// What went wrong while driving the simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The API server refused a request of a simulated component or of the
    /// scenario.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The backup target failed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A local file (a volume's data) could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Something the scenario names does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A scenario step asked for something the simulation cannot do.
    #[error("{0}")]
    Invalid(String),
    /// The cluster kept changing for longer than allowed.
    #[error("the cluster did not settle within {rounds} rounds; still changing: {still}")]
    NotSettled {
        /// Rounds run.
        rounds: usize,
        /// What changed in the last round.
        still: String,
    },
}

impl SimError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SimError::Io {
            path: path.into(),
            source,
        }
    }
}
