//! The crate's error type. Every error that comes from the target names the
//! file (its path relative to the target root) and, where it applies, the field.

use std::fmt;

/// What kind of name failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A Longhorn volume (backup volume directory).
    Volume,
    /// A Longhorn backup.
    Backup,
    /// A lock file.
    Lock,
    /// A block checksum (block file name).
    Checksum,
    /// A Kubernetes namespace in a Harvester metadata path.
    Namespace,
    /// A Kubernetes object name in a Harvester metadata path.
    ObjectName,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Volume => "volume",
            NameKind::Backup => "backup",
            NameKind::Lock => "lock",
            NameKind::Checksum => "block checksum",
            NameKind::Namespace => "namespace",
            NameKind::ObjectName => "object",
        })
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A volume, backup, lock, checksum or metadata name is not acceptable.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// What the name is for.
        kind: NameKind,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The target URL cannot be used.
    #[error("invalid backup target {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Credentials could not be loaded.
    #[error("credentials from {source_name}: {reason}")]
    Credentials {
        /// Where they were read from (a file path or "environment").
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// A path on a local target leads outside it.
    #[error("{path}: refused, it leads outside the target: {reason}")]
    OutsideTarget {
        /// Path relative to the target root.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file the operation needs is not on the target.
    #[error("cannot find {path} in the backup target")]
    NotFound {
        /// Path relative to the target root.
        path: String,
    },
    /// A path that must be a directory (a volume's `backups`) is a file.
    #[error("{path} is a file, not a directory")]
    NotADirectory {
        /// Path relative to the target root.
        path: String,
    },
    /// A path that must be a file (a config) is a directory.
    #[error("{path} is a directory, not a file")]
    NotAFile {
        /// Path relative to the target root.
        path: String,
    },
    /// A file is larger than this crate accepts for its kind.
    #[error("{path} is {size} bytes, larger than the {limit} bytes accepted for this kind of file")]
    TooLarge {
        /// Path relative to the target root.
        path: String,
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// A file is not valid JSON (or not a JSON object).
    #[error("{path}: malformed JSON: {reason}")]
    Json {
        /// Path relative to the target root.
        path: String,
        /// Parser message.
        reason: String,
    },
    /// A field has the wrong type, encoding or value.
    #[error("{path}: field {field}: {reason}")]
    Field {
        /// Path relative to the target root.
        path: String,
        /// Field name, e.g. `Size` or `Blocks[3].Offset`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A block's content does not match its checksum.
    #[error("{path}: checksum mismatch: the content hashes to {actual}")]
    Checksum {
        /// Path of the block file relative to the target root.
        path: String,
        /// Checksum of what was read.
        actual: String,
    },
    /// A block file cannot be decompressed or has the wrong length.
    #[error("{path}: damaged block ({compression}): {reason}")]
    Block {
        /// Path of the block file relative to the target root.
        path: String,
        /// Compression method it was decoded with.
        compression: String,
        /// What went wrong.
        reason: String,
    },
    /// The object store failed.
    #[error("{path}: {error}")]
    Store {
        /// Path relative to the target root.
        path: String,
        /// Underlying error, shown in this error's text (so not also
        /// given as its `source()`, which would print it twice).
        error: object_store::Error,
    },
    /// A local file (image or export destination) failed.
    #[error("{path}: {error}")]
    Io {
        /// Local path.
        path: String,
        /// Underlying error, shown in this error's text (so not also
        /// given as its `source()`, which would print it twice).
        error: std::io::Error,
    },
    /// The backup has no completion time yet.
    #[error("backup {backup} of volume {volume} is still in progress")]
    InProgress {
        /// Volume name.
        volume: String,
        /// Backup name.
        backup: String,
    },
    /// The image being imported changed while it was read.
    #[error(
        "{path} changed during the import (block at offset {offset}); back up a snapshot or a stopped VM's disk"
    )]
    ImageChanged {
        /// The image.
        path: String,
        /// Offset of the first block found changed.
        offset: u64,
    },
    /// A backup was deleted while it was being read without a lock.
    #[error(
        "backup {backup} of volume {volume} was deleted while it was being read ({path} is gone); read it with the volume lock to keep deletions out"
    )]
    Deleted {
        /// Volume name.
        volume: String,
        /// Backup name.
        backup: String,
        /// The file found missing.
        path: String,
    },
    /// A backup with that name already exists.
    #[error("backup {backup} of volume {volume} already exists")]
    AlreadyExists {
        /// Volume name.
        volume: String,
        /// Backup name.
        backup: String,
    },
    /// Another process holds a conflicting lock on the volume.
    #[error(
        "cannot lock volume {volume} for {operation}: {holder} holds a conflicting lock; try again later"
    )]
    Locked {
        /// Volume name.
        volume: String,
        /// What we wanted to do.
        operation: &'static str,
        /// Path of the lock that wins over ours.
        holder: String,
    },
    /// An import was refused because the volume on the target is damaged in
    /// a way a new backup would make worse.
    #[error("volume {volume}: nothing imported: {reason}")]
    ImportRefused {
        /// Volume name.
        volume: String,
        /// Why.
        reason: String,
    },
    /// Block collection was refused because the volume is not in a state where
    /// it is safe.
    #[error("volume {volume}: unused blocks were not collected: {reason}")]
    GcRefused {
        /// Volume name.
        volume: String,
        /// Why.
        reason: String,
    },
    /// The operation was asked to do something this crate does not support.
    #[error("{0}")]
    Unsupported(String),
    /// A background task failed (panicked or was cancelled).
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Address of the instance metadata service AWS credentials fall back to.
const INSTANCE_METADATA: &str = "169.254.169.254";

impl Error {
    pub(crate) fn field(path: &str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Field {
            path: path.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            error: source,
        }
    }

    /// Maps an object store error, turning "not found" into [`Error::NotFound`].
    pub(crate) fn store(path: &str, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound {
                path: path.to_owned(),
            },
            // No keys were given and the instance metadata service (the
            // last place AWS credentials can come from) did not answer.
            source if source.to_string().contains(INSTANCE_METADATA) => Error::Credentials {
                source_name: "the environment, --credentials or the instance's role".into(),
                reason: format!(
                    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --credentials (the secret Longhorn's backup target names); reading {path} failed: {source}"
                ),
            },
            source => Error::Store {
                path: path.to_owned(),
                error: source,
            },
        }
    }

    /// The target file the error is about, relative to the target root,
    /// when it is about one.
    pub fn target_file(&self) -> Option<&str> {
        match self {
            Error::OutsideTarget { path, .. }
            | Error::NotFound { path }
            | Error::NotADirectory { path }
            | Error::NotAFile { path }
            | Error::TooLarge { path, .. }
            | Error::Json { path, .. }
            | Error::Field { path, .. }
            | Error::Store { path, .. } => Some(path),
            _ => None,
        }
    }

    /// True when the error says a file is missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    pub(crate) fn task(e: tokio::task::JoinError) -> Self {
        Error::Task(e.to_string())
    }
}

#[cfg(test)]
mod store_error_tests {
    use super::*;

    #[test]
    fn a_failed_instance_metadata_lookup_says_which_credentials_to_give() {
        let e = Error::store(
            "backupstore/volumes",
            object_store::Error::Generic {
                store: "S3",
                source: "Error performing PUT http://169.254.169.254/latest/api/token: 403".into(),
            },
        );
        let text = e.to_string();
        assert!(matches!(e, Error::Credentials { .. }), "{text}");
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("backupstore/volumes"), "{text}");
        // Other store errors are left as they are.
        let e = Error::store(
            "x",
            object_store::Error::Generic {
                store: "S3",
                source: "connection refused".into(),
            },
        );
        assert!(matches!(e, Error::Store { .. }), "{e}");
    }
}
