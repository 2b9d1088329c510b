//! Why an input could not be read. Every error names the file (and where the
//! parser knows it, the line), so the operator can fix or remove it.

use std::path::PathBuf;

/// An input (manifest directory, support bundle, live cluster) could not be
/// read. Nothing is diagnosed from a partly read input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not valid YAML or JSON.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file (inside a bundle: the archive and the entry).
        path: PathBuf,
        /// The parser's message, with line and column where it gives them.
        message: String,
    },
    /// An object of a kind vmbackup reads does not have that kind's shape.
    #[error("{}: {location}: {kind} {name:?}: {message}", path.display())]
    Object {
        /// The file.
        path: PathBuf,
        /// Document (and list item), with the line the document starts on.
        location: String,
        /// The object's `kind`.
        kind: String,
        /// The object's `metadata.name`.
        name: String,
        /// What is wrong, starting with the field path.
        message: String,
    },
    /// A file is larger than vmbackup reads.
    #[error("{}: {size} bytes is more than the {limit} bytes vmbackup reads from one file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The path is not a support bundle.
    #[error("{}: not a support bundle: {reason}", path.display())]
    NotABundle {
        /// The path given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The input held no object at all.
    #[error("{}: no Kubernetes objects found{hint}", path.display())]
    Empty {
        /// The path given.
        path: PathBuf,
        /// What was found instead.
        hint: String,
    },
    /// Several files could not be read (each error names its file).
    #[error("{} files could not be read:\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Several(Vec<SourceError>),
    /// The live cluster could not be reached, read or changed.
    #[error("cluster{}: {source}{}", context.as_ref().map(|c| format!(" (context {c})")).unwrap_or_default(), source.hint())]
    Live {
        /// The kubeconfig context, if one was named.
        context: Option<String>,
        /// What went wrong.
        source: Box<super::live::LiveError>,
    },
}

impl SourceError {
    /// One error for all of `errors`; `None` when there is none.
    pub fn combine(mut errors: Vec<SourceError>) -> Option<SourceError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(SourceError::Several(errors)),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SourceError::Io {
            path: path.into(),
            source,
        }
    }
}
