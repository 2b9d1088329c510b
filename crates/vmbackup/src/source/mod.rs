//! Where the commands read the cluster from: manifest files (`--from`), a
//! Harvester support bundle (`--bundle`) or a live cluster (`--kubeconfig`,
//! `--context`, the default). Each source yields the engine's [`View`] plus
//! notes about what was read; `--target` adds the backup target's facts.

pub mod bundle;
pub mod error;
pub mod live;
pub mod manifests;
pub mod notes;
pub mod parse;
pub mod progress;
pub mod target;

use std::fmt;
use std::path::PathBuf;

use vmbackup_engine::View;

pub use error::SourceError;
pub use notes::Note;

/// Largest file vmbackup reads as one manifest.
pub const MAX_FILE_SIZE: u64 = 512 << 20;

/// Which cluster a command reads.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// Read the objects from manifest files: `kubectl get ... -o yaml` (or
    /// json) output, multi-document YAML, `List`s. A directory is read
    /// recursively (.yaml, .yml, .json); `-` reads standard input. Repeatable.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bundle", "kubeconfig", "context"])]
    pub from: Vec<PathBuf>,
    /// Read the objects from a Harvester support bundle: the .zip file or
    /// the directory it unpacks to.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["kubeconfig", "context"])]
    pub bundle: Option<PathBuf>,
    /// Read a live cluster through this kubeconfig (the default input, with
    /// KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl SourceArgs {
    /// Whether the input is a live cluster (no `--from`, no `--bundle`).
    pub fn is_live(&self) -> bool {
        self.from.is_empty() && self.bundle.is_none()
    }

    /// The live cluster's settings.
    pub fn live(&self) -> live::LiveArgs {
        live::LiveArgs {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// What an input gave.
#[derive(Debug)]
pub struct Loaded {
    /// The objects, indexed.
    pub view: View,
    /// Where they came from.
    pub origin: Origin,
    /// What was read but not used.
    pub notes: Vec<Note>,
}

/// Where a View came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Manifest files.
    Manifests {
        /// The paths given.
        paths: Vec<PathBuf>,
        /// Files read.
        files: usize,
    },
    /// A support bundle.
    Bundle {
        /// The zip file or directory.
        path: PathBuf,
        /// Resource files read.
        files: usize,
    },
    /// A live cluster.
    #[allow(dead_code)] // Made by the live source once it reads clusters.
    Live {
        /// The kubeconfig context, if one was named.
        context: Option<String>,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Manifests { paths, files } => write!(
                f,
                "{} ({files} file(s))",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Origin::Bundle { path, files } => {
                write!(
                    f,
                    "support bundle {} ({files} resource file(s))",
                    path.display()
                )
            }
            Origin::Live { context: Some(c) } => write!(f, "cluster (context {c})"),
            Origin::Live { context: None } => f.write_str("cluster"),
        }
    }
}

/// Reads the input the arguments name.
pub fn load(args: &SourceArgs) -> Result<Loaded, SourceError> {
    if !args.from.is_empty() {
        manifests::load(&args.from)
    } else if let Some(path) = &args.bundle {
        bundle::load(path)
    } else {
        live::load(&args.live())
    }
}
