//! Findings: what a human needs to know about the cluster and the backup
//! target, each with a stable code, the object it is about, what is wrong,
//! what will fail because of it, and the fix.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::object::ObjectRef;

/// How much a finding matters. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing fails because of it.
    Info,
    /// Something is degraded or will fail under some conditions.
    Warning,
    /// Something fails now, or data is at risk.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, )*) => {
        /// Stable identifier of a kind of finding. The kebab-case text is part
        /// of the output contract: tools and people match on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable kebab-case text of the code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Code::$variant => $text, )*
                }
            }
        }
    };
}

codes! {
    /// A Longhorn backup handle with the deprecated `bs://` prefix whose
    /// volume part is not (or cannot be shown to be) the Longhorn volume.
    LegacyHandle => "legacy-handle",
    /// A `bs://` handle whose volume part is the right Longhorn volume: it
    /// resolves, only the prefix is deprecated.
    DeprecatedHandlePrefix => "deprecated-handle-prefix",
    /// A `bak://` handle Longhorn ≥ 1.8 cannot resolve to its backup.
    UnresolvableHandle => "unresolvable-handle",
    /// A snapshot handle that does not parse.
    MalformedHandle => "malformed-handle",
    /// More than one Longhorn BackupVolume claims the handle's volume on one
    /// backup target.
    AmbiguousBackupVolume => "ambiguous-backup-volume",
    /// A volume backup names a Longhorn Backup that is not in the cluster.
    MissingLonghornBackup => "missing-longhorn-backup",
    /// A Longhorn Backup that no VMBackup, VolumeSnapshotContent or restore
    /// references.
    OrphanLonghornBackup => "orphan-longhorn-backup",
    /// A StorageClass a backup or VM needs does not exist in the cluster.
    MissingStorageClass => "missing-storage-class",
    /// A VolumeSnapshotClass named by an object does not exist.
    MissingSnapshotClass => "missing-snapshot-class",
    /// A Longhorn VolumeSnapshotClass with a pre-release `type` spelling.
    NonStandardSnapshotClassType => "non-standard-snapshot-class-type",
    /// A Longhorn VolumeSnapshotClass with a `type` Longhorn does not know.
    UnknownSnapshotClassType => "unknown-snapshot-class-type",
    /// An object served by an old API version.
    DeprecatedApiVersion => "deprecated-api-version",
    /// A backup's data is not on the backup target.
    BackupNotOnTarget => "backup-not-on-target",
    /// A metadata file on the backup target could not be read or decoded.
    UnreadableMetadata => "unreadable-metadata",
    /// Periodic rediscovery is off (`refreshIntervalInSeconds` is 0).
    RefreshDisabled => "refresh-disabled",
    /// The backup target is not configured.
    TargetNotConfigured => "target-not-configured",
    /// The backup target cannot be read, or its listing is empty or partial
    /// while backups were known.
    TargetUnavailable => "target-unavailable",
    /// VolumeSnapshots/Contents left behind by a finished or deleted restore.
    StaleRestoreObjects => "stale-restore-objects",
    /// A VMBackup that is not ready to restore from.
    VmbackupNotReady => "vmbackup-not-ready",
    /// A VMBackup that failed; it cannot be restored.
    VmbackupFailed => "vmbackup-failed",
    /// A VMBackup whose VolumeSnapshot or VolumeSnapshotContent is missing.
    MissingSnapshotObject => "missing-snapshot-object",
    /// A restore that cannot proceed.
    RestoreBlocked => "restore-blocked",
    /// A restore that failed.
    RestoreFailed => "restore-failed",
    /// A backup that cannot proceed.
    BackupBlocked => "backup-blocked",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One thing a human should know, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// How much it matters.
    pub severity: Severity,
    /// The object the finding is about.
    pub object: ObjectRef,
    /// What is wrong.
    pub message: String,
    /// What will fail because of it (most codes have a fixed text, which is
    /// not copied into every finding).
    pub impact: Cow<'static, str>,
    /// How to fix it (or that vmbackup's plan fixes it).
    pub fix: String,
}

impl Finding {
    /// Starts a finding; fill the texts with [`Finding::message`],
    /// [`Finding::impact`] and [`Finding::fix`].
    pub fn new(code: Code, severity: Severity, object: ObjectRef) -> Self {
        Finding {
            code,
            severity,
            object,
            message: String::new(),
            impact: Cow::Borrowed(""),
            fix: String::new(),
        }
    }

    /// Sets what is wrong.
    #[must_use]
    pub fn message(mut self, text: impl Into<String>) -> Self {
        self.message = exact(text.into());
        self
    }

    /// Sets what will fail because of it.
    #[must_use]
    pub fn impact(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.impact = match text.into() {
            Cow::Owned(text) => Cow::Owned(exact(text)),
            fixed => fixed,
        };
        self
    }

    /// Sets the fix.
    #[must_use]
    pub fn fix(mut self, text: impl Into<String>) -> Self {
        self.fix = exact(text.into());
        self
    }

    /// Sort key: most severe first, then by object, code and text.
    fn sort_key(&self) -> (std::cmp::Reverse<Severity>, &ObjectRef, Code, &str) {
        (
            std::cmp::Reverse(self.severity),
            &self.object,
            self.code,
            &self.message,
        )
    }
}

/// Puts findings in their canonical order (most severe first, then by
/// object and code) and drops exact duplicates.
pub fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] {}: {}",
            self.severity, self.code, self.object, self.message
        )
    }
}

/// `text` without spare capacity: a plan may hold tens of thousands of
/// texts, and formatting leaves room to grow.
pub(crate) fn exact(mut text: String) -> String {
    text.shrink_to_fit();
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "duplicate code {text}");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{text}"
            );
        }
        for required in [
            "legacy-handle",
            "unresolvable-handle",
            "malformed-handle",
            "missing-longhorn-backup",
            "orphan-longhorn-backup",
            "missing-storage-class",
            "backup-not-on-target",
            "refresh-disabled",
            "stale-restore-objects",
            "vmbackup-not-ready",
            "target-unavailable",
        ] {
            assert!(
                seen.contains(required),
                "{required} missing from the catalogue"
            );
        }
    }

    #[test]
    fn findings_sort_most_severe_first() {
        let obj = |n: &str| ObjectRef::cluster(Kind::VolumeSnapshotContent, n);
        let mut list = vec![
            Finding::new(Code::RefreshDisabled, Severity::Info, obj("a")),
            Finding::new(Code::LegacyHandle, Severity::Error, obj("b")),
            Finding::new(Code::LegacyHandle, Severity::Error, obj("b")),
            Finding::new(Code::AmbiguousBackupVolume, Severity::Warning, obj("a")),
        ];
        sort_findings(&mut list);
        let codes: Vec<_> = list.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                Code::LegacyHandle,
                Code::AmbiguousBackupVolume,
                Code::RefreshDisabled
            ]
        );
    }

    #[test]
    fn serialises_code_and_severity_as_text() {
        let f = Finding::new(
            Code::LegacyHandle,
            Severity::Error,
            ObjectRef::cluster(Kind::VolumeSnapshotContent, "c"),
        )
        .message("m")
        .impact("i")
        .fix("x");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["code"], "legacy-handle");
        assert_eq!(json["severity"], "error");
        assert_eq!(json["object"]["kind"], "VolumeSnapshotContent");
        assert_eq!(json["fix"], "x");
    }
}
