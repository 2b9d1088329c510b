//! How Longhorn's CSI driver itself reads and writes handles, reproduced
//! exactly, edge cases included. Nothing here validates: this is what the
//! driver does with any string, so that vmbackup can say what Longhorn will
//! make of a handle, malformed or not.
//!
//! Reading splits on every `://`; fewer than two pieces reads as nothing.
//! A (normalised) type `bi` reads as a backing image with no volume or id.
//! Otherwise the second piece, and only it, is split on every `/`; fewer than
//! two pieces reads as nothing, else the first is the volume and the second
//! the id, and the rest is dropped. `bs` is read and written as `bak`.
//! Types are case-sensitive, and nothing is unescaped.

use std::fmt;

/// The type Longhorn writes for backups.
pub const TYPE_BACKUP: &str = "bak";
/// The deprecated type Longhorn still reads as [`TYPE_BACKUP`].
pub const TYPE_BACKUP_DEPRECATED: &str = "bs";
/// The type of in-cluster snapshots.
pub const TYPE_SNAPSHOT: &str = "snap";
/// The type of backing images.
pub const TYPE_BACKING_IMAGE: &str = "bi";

/// What Longhorn's driver reads from a handle: its type (with `bs` read as
/// `bak`), volume and id. Empty strings where it reads nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LonghornReading<'a> {
    /// The type, normalised (`bs` → `bak`); `""` when the handle has no `://`
    /// or no `/` after it.
    pub csi_type: &'a str,
    /// The volume part.
    pub volume: &'a str,
    /// The id: a backup or snapshot name.
    pub id: &'a str,
}

/// What Longhorn's driver does with a handle given as a volume source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LonghornAction {
    /// Restores from the backup named by the id, found through a BackupVolume
    /// for the volume part (how depends on the Longhorn version).
    RestoreBackup,
    /// Clones the snapshot named by the id of the volume part.
    CloneSnapshot,
    /// Uses a backing image named by the query's `backingImage` parameter.
    UseBackingImage,
    /// Answers `NotFound`: the type is `bak` or `snap` but the id is empty.
    NotFound,
    /// Answers `InvalidArgument`: the type is not one it knows.
    InvalidArgument,
}

impl LonghornAction {
    /// A kebab-case name for output.
    pub fn as_str(self) -> &'static str {
        match self {
            LonghornAction::RestoreBackup => "restore-backup",
            LonghornAction::CloneSnapshot => "clone-snapshot",
            LonghornAction::UseBackingImage => "use-backing-image",
            LonghornAction::NotFound => "not-found",
            LonghornAction::InvalidArgument => "invalid-argument",
        }
    }
}

impl fmt::Display for LonghornAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> LonghornReading<'a> {
    /// What the driver does with this reading when asked to create a volume
    /// from it (before looking anything up).
    pub fn action(&self) -> LonghornAction {
        match self.csi_type {
            TYPE_BACKING_IMAGE => LonghornAction::UseBackingImage,
            TYPE_BACKUP | TYPE_SNAPSHOT if self.id.is_empty() => LonghornAction::NotFound,
            TYPE_BACKUP => LonghornAction::RestoreBackup,
            TYPE_SNAPSHOT => LonghornAction::CloneSnapshot,
            _ => LonghornAction::InvalidArgument,
        }
    }
}

impl fmt::Display for LonghornReading<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "type {:?}, volume {:?}, id {:?}",
            self.csi_type, self.volume, self.id
        )
    }
}

fn normalise_type(csi_type: &str) -> &str {
    if csi_type == TYPE_BACKUP_DEPRECATED {
        TYPE_BACKUP
    } else {
        csi_type
    }
}

/// Read `handle` exactly as Longhorn's CSI driver does.
pub fn read(handle: &str) -> LonghornReading<'_> {
    const NOTHING: LonghornReading<'static> = LonghornReading {
        csi_type: "",
        volume: "",
        id: "",
    };
    let mut pieces = handle.split("://");
    let csi_type = pieces.next().unwrap_or("");
    let Some(rest) = pieces.next() else {
        return NOTHING;
    };
    if normalise_type(csi_type) == TYPE_BACKING_IMAGE {
        return LonghornReading {
            csi_type: TYPE_BACKING_IMAGE,
            volume: "",
            id: "",
        };
    }
    let mut parts = rest.split('/');
    let volume = parts.next().unwrap_or("");
    let Some(id) = parts.next() else {
        return NOTHING;
    };
    LonghornReading {
        csi_type: normalise_type(csi_type),
        volume,
        id,
    }
}

/// Write a handle exactly as Longhorn's CSI driver does: `<type>://<volume>/<id>`
/// for `bak`, `bs` (written as `bak`) and `snap`, and the bare id for any
/// other type. Nothing is escaped.
pub fn write(csi_type: &str, volume: &str, id: &str) -> String {
    let csi_type = normalise_type(csi_type);
    if csi_type == TYPE_BACKUP || csi_type == TYPE_SNAPSHOT {
        format!("{csi_type}://{volume}/{id}")
    } else {
        id.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every handle Longhorn's driver was checked against, with what it reads
    /// and what CreateVolume does with it.
    const READ_VECTORS: &[(&str, &str, &str, &str, LonghornAction)] = &[
        (
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
            LonghornAction::RestoreBackup,
        ),
        (
            "bs://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
            LonghornAction::RestoreBackup,
        ),
        (
            "snap://pvc-0123abcd-test/snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11",
            "snap",
            "pvc-0123abcd-test",
            "snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11",
            LonghornAction::CloneSnapshot,
        ),
        (
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4/extra",
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
            LonghornAction::RestoreBackup,
        ),
        (
            "bak://pvc-0123abcd-test/",
            "bak",
            "pvc-0123abcd-test",
            "",
            LonghornAction::NotFound,
        ),
        (
            "bak:///backup-1",
            "bak",
            "",
            "backup-1",
            LonghornAction::RestoreBackup,
        ),
        (
            "bak://pvc-0123abcd-test",
            "",
            "",
            "",
            LonghornAction::InvalidArgument,
        ),
        (
            "bak://vol//backup-1",
            "bak",
            "vol",
            "",
            LonghornAction::NotFound,
        ),
        ("bak://a://b/c", "", "", "", LonghornAction::InvalidArgument),
        (
            "BAK://vol/backup-1",
            "BAK",
            "vol",
            "backup-1",
            LonghornAction::InvalidArgument,
        ),
        ("backup-1", "", "", "", LonghornAction::InvalidArgument),
        (
            "://vol/backup-1",
            "",
            "vol",
            "backup-1",
            LonghornAction::InvalidArgument,
        ),
        (
            "bk://vol/backup-1",
            "bk",
            "vol",
            "backup-1",
            LonghornAction::InvalidArgument,
        ),
        ("", "", "", "", LonghornAction::InvalidArgument),
        (
            "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=raw&volume-name=pvc-0123abcd-test",
            "bi",
            "",
            "",
            LonghornAction::UseBackingImage,
        ),
        (
            "bi://anything",
            "bi",
            "",
            "",
            LonghornAction::UseBackingImage,
        ),
    ];

    #[test]
    fn reads_every_vector_like_longhorn() {
        for &(handle, csi_type, volume, id, action) in READ_VECTORS {
            let reading = read(handle);
            assert_eq!(
                reading,
                LonghornReading {
                    csi_type,
                    volume,
                    id
                },
                "{handle}"
            );
            assert_eq!(reading.action(), action, "{handle}");
        }
    }

    #[test]
    fn more_edge_cases() {
        // Only the piece between the first and second `://` is split on `/`.
        assert_eq!(
            read("bak://a/b://c"),
            LonghornReading {
                csi_type: "bak",
                volume: "a",
                id: "b"
            }
        );
        // `bi` wins whatever follows.
        assert_eq!(read("bi://x/y/z").csi_type, "bi");
        assert_eq!(read("bi://").csi_type, "bi");
        // Empty second piece.
        assert_eq!(read("bak://").csi_type, "");
        assert_eq!(
            read("bak:///"),
            LonghornReading {
                csi_type: "bak",
                volume: "",
                id: ""
            }
        );
        // A `:/` that is not `://` is just a character.
        assert_eq!(read("bak:/v/b").csi_type, "");
        // `:///` is `://` then `/`.
        assert_eq!(
            read("bak:///v/b"),
            LonghornReading {
                csi_type: "bak",
                volume: "",
                id: "v"
            }
        );
    }

    #[test]
    fn writes_like_longhorn() {
        let vectors = [
            (
                "bak",
                "pvc-0123abcd-test",
                "backup-854f6ced7b4942d4",
                "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            ),
            ("bs", "vol", "backup-1", "bak://vol/backup-1"),
            ("snap", "vol", "snapshot-abc", "snap://vol/snapshot-abc"),
            ("bi", "vol", "whatever", "whatever"),
            ("", "vol", "backup-1", "backup-1"),
        ];
        for (csi_type, volume, id, handle) in vectors {
            assert_eq!(write(csi_type, volume, id), handle);
        }
    }
}
