//! Deleting a backup removes exactly what no other backup needs, only when
//! asked, and never while another process could be using the blocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::{Duration, SystemTime};
use vmbackup_backupstore::{
    BackupConfig, Compression, Error, ExportOptions, GcOutcome, ImportOptions, LockKind,
    NoProgress, layout,
};

const BS: u64 = 64 << 10;

fn opts() -> ImportOptions {
    ImportOptions {
        compression: Compression::Lz4,
        block_size: BS,
        ..Default::default()
    }
}

fn block_files(root: &std::path::Path) -> usize {
    let dir = root.join(layout::blocks_dir("vol").unwrap());
    if !dir.exists() {
        return 0;
    }
    let mut n = 0;
    for a in std::fs::read_dir(&dir).unwrap() {
        let a = a.unwrap().path();
        if !a.is_dir() {
            continue;
        }
        for b in std::fs::read_dir(a).unwrap() {
            n += std::fs::read_dir(b.unwrap().path()).unwrap().count();
        }
    }
    n
}

#[tokio::test]
async fn entries_no_object_key_can_name_do_not_stop_a_collection() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, (4 * BS) as usize, Fill::Random(7))]);
    let first = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    patch_image(&image, 0, &random_bytes(8, BS as usize));
    target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(block_files(dir.path()), 5);

    // Another tool left, among the blocks, a file whose name is not UTF-8,
    // a folder whose name holds a control character, and a dangling link.
    let blocks = dir.path().join(layout::blocks_dir("vol").unwrap());
    let some_level = std::fs::read_dir(&blocks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let odd = [
        some_level.join(std::ffi::OsStr::from_bytes(b"junk-\xff.blk")),
        blocks.join("bad\u{7f}dir"),
        blocks.join("dangling"),
    ];
    std::fs::write(&odd[0], b"keep me").unwrap();
    std::fs::create_dir(&odd[1]).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &odd[2]).unwrap();

    let summary = target.delete_backup("vol", &first.backup).await.unwrap();
    assert_eq!(
        summary.gc,
        GcOutcome::Collected {
            blocks_deleted: 1,
            blocks_kept: 4
        }
    );
    for path in &odd {
        assert!(
            path.symlink_metadata().is_ok(),
            "{} was left",
            path.display()
        );
    }
}

#[tokio::test]
async fn deleting_a_backup_collects_only_its_own_blocks() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 10 * BS, &[(0, (10 * BS) as usize, Fill::Random(1))]);
    let first = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    patch_image(&image, 0, &random_bytes(2, (3 * BS) as usize));
    let second = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(block_files(dir.path()), 13);

    // An unknown file among the blocks is not ours to delete.
    let stray = dir
        .path()
        .join(layout::blocks_dir("vol").unwrap())
        .join("README");
    std::fs::write(&stray, b"keep me").unwrap();

    let summary = target.delete_backup("vol", &first.backup).await.unwrap();
    assert_eq!(
        summary.gc,
        GcOutcome::Collected {
            blocks_deleted: 3,
            blocks_kept: 10
        }
    );
    assert_eq!(summary.last_backup, second.backup);
    assert_eq!(block_files(dir.path()), 10);
    assert!(stray.exists());
    let vol = target.volume_config("vol").await.unwrap();
    assert_eq!(vol.block_count, 10);
    assert_eq!(
        target.list_backups("vol").await.unwrap().backups,
        vec![second.backup.clone()]
    );

    let out = work.path().join("out.img");
    target
        .export_raw(
            "vol",
            &second.backup,
            &out,
            &ExportOptions {
                fsync: false,
                ..Default::default()
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(sha256_file(&out), sha256_file(&image));

    // Deleting the last backup recomputes the pointer (to nothing) and
    // collects every block.
    let summary = target.delete_backup("vol", &second.backup).await.unwrap();
    assert_eq!(summary.last_backup, "");
    assert_eq!(
        summary.gc,
        GcOutcome::Collected {
            blocks_deleted: 10,
            blocks_kept: 0
        }
    );
    let vol = target.volume_config("vol").await.unwrap();
    assert_eq!((vol.last_backup_name.as_str(), vol.block_count), ("", 0));
}

#[tokio::test]
async fn deleting_the_last_backup_points_volume_cfg_at_the_newest_remaining() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 2 * BS, &[(0, 100, Fill::Byte(1))]);
    let a = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    // Make the two SnapshotCreatedAt values differ.
    let rel = layout::backup_cfg("vol", &a.backup).unwrap();
    let path = _dir.path().join(&rel);
    let mut cfg = BackupConfig::from_json(&std::fs::read(&path).unwrap(), &rel).unwrap();
    cfg.snapshot_created_at = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, cfg.to_json()).unwrap();
    let b = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    let s = target.delete_backup("vol", &b.backup).await.unwrap();
    assert_eq!(s.last_backup, a.backup);
    let vol = target.volume_config("vol").await.unwrap();
    assert_eq!(vol.last_backup_at, "2020-01-01T00:00:00Z");
}

#[tokio::test]
async fn no_collection_while_a_backup_is_in_progress_or_unreadable() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, (4 * BS) as usize, Fill::Random(4))]);
    let a = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    patch_image(&image, 0, &random_bytes(5, BS as usize));
    let b = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();

    // Someone (Longhorn, or an interrupted vmbackup) is writing a backup.
    let placeholder = BackupConfig::in_progress("backup-running", "vol", Compression::Lz4);
    let rel = layout::backup_cfg("vol", "backup-running").unwrap();
    std::fs::write(dir.path().join(&rel), placeholder.to_json()).unwrap();
    let before = block_files(dir.path());
    let s = target.delete_backup("vol", &a.backup).await.unwrap();
    assert!(
        matches!(s.gc, GcOutcome::Skipped { ref reason } if reason.contains("backup-running")),
        "{s:?}"
    );
    assert_eq!(block_files(dir.path()), before);
    let e = target.collect_garbage("vol").await.unwrap_err();
    assert!(matches!(e, Error::GcRefused { .. }), "{e}");

    // Once it is gone, collection runs (only when asked).
    std::fs::remove_file(dir.path().join(&rel)).unwrap();
    assert_eq!(block_files(dir.path()), before);
    let g = target.collect_garbage("vol").await.unwrap();
    assert_eq!(
        g,
        GcOutcome::Collected {
            blocks_deleted: 1,
            blocks_kept: 4
        }
    );

    // An unreadable backup config also stops collection.
    std::fs::write(
        dir.path()
            .join(layout::backup_cfg("vol", &b.backup).unwrap()),
        b"{garbage",
    )
    .unwrap();
    assert!(matches!(
        target.collect_garbage("vol").await.unwrap_err(),
        Error::GcRefused { .. }
    ));
    assert_eq!(block_files(dir.path()), 4);
}

#[tokio::test]
async fn deletion_respects_locks() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 2 * BS, &[(0, 100, Fill::Byte(1))]);
    let a = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();

    // A backup or restore in progress holds a type-1 lock.
    let held = target.lock("vol", LockKind::BackupOrRestore).await.unwrap();
    let e = target.delete_backup("vol", &a.backup).await.unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(
        target.backup_config("vol", &a.backup).await.is_ok(),
        "nothing was deleted"
    );
    held.release().await.unwrap();

    // A Longhorn restore lock that stopped being refreshed expires after 150 s.
    let lock_rel = layout::lock_path("vol", "lock-0123456789ab4def").unwrap();
    let lock_path = dir.path().join(&lock_rel);
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    std::fs::write(
        &lock_path,
        br#"{"Name":"lock-0123456789ab4def","Type":1,"Acquired":true}"#,
    )
    .unwrap();
    assert!(matches!(
        target.delete_backup("vol", &a.backup).await.unwrap_err(),
        Error::Locked { .. }
    ));
    let f = std::fs::File::options()
        .write(true)
        .open(&lock_path)
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(600))
        .unwrap();
    drop(f);
    target.delete_backup("vol", &a.backup).await.unwrap();
    assert!(
        lock_path.exists(),
        "another process's lock file is never removed"
    );

    let e = target
        .delete_backup("vol", "backup-missing")
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn export_and_import_wait_for_no_deletion() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 2 * BS, &[(0, 100, Fill::Byte(1))]);
    let a = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    let deleting = target.lock("vol", LockKind::Deletion).await.unwrap();
    assert!(matches!(
        target
            .import_raw("vol", &image, &opts(), &NoProgress)
            .await
            .unwrap_err(),
        Error::Locked { .. }
    ));
    assert_eq!(
        target.list_backups("vol").await.unwrap().backups,
        vec![a.backup.clone()],
        "a refused import leaves no placeholder"
    );
    let out = work.path().join("out.img");
    assert!(matches!(
        target
            .export_raw(
                "vol",
                &a.backup,
                &out,
                &ExportOptions {
                    lock: true,
                    ..Default::default()
                },
                &NoProgress
            )
            .await
            .unwrap_err(),
        Error::Locked { .. }
    ));
    assert!(!out.exists());
    // A read without the lock (the default) goes on: it cannot harm the
    // deletion, and every block it reads is verified.
    target
        .export_raw(
            "vol",
            &a.backup,
            &out,
            &ExportOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
    deleting.release().await.unwrap();
}

/// Deletes a backup's config and blocks from a local target the first time
/// the export reports progress, as a deletion running meanwhile would.
struct DeleteOnFirstBlock {
    root: std::path::PathBuf,
    backup: String,
    done: std::sync::atomic::AtomicBool,
}

impl vmbackup_backupstore::Progress for DeleteOnFirstBlock {
    fn advance(&self, _bytes: u64) {
        if self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let cfg = self
            .root
            .join(layout::backup_cfg("vol", &self.backup).unwrap());
        std::fs::remove_file(cfg).unwrap();
        std::fs::remove_dir_all(self.root.join(layout::blocks_dir("vol").unwrap())).unwrap();
    }
}

#[tokio::test]
async fn a_backup_deleted_during_an_unlocked_export_is_reported_as_deleted() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 16 * BS, &[(0, 16 * BS as usize, Fill::Random(3))]);
    let a = target
        .import_raw("vol", &image, &opts(), &NoProgress)
        .await
        .unwrap();
    let out = work.path().join("out.img");
    let progress = DeleteOnFirstBlock {
        root: dir.path().to_path_buf(),
        backup: a.backup.clone(),
        done: false.into(),
    };
    let options = ExportOptions {
        concurrency: Some(1),
        ..Default::default()
    };
    let e = target
        .export_raw("vol", &a.backup, &out, &options, &progress)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Deleted { backup, .. } if *backup == a.backup),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("was deleted while it was being read"),
        "{e}"
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the image remains: {leftovers:?}");
}

/// Records, at the first block upload, whether any lock file of the
/// volume was marked acquired yet.
struct LockStateAtFirstUpload {
    root: std::path::PathBuf,
    /// Bytes the scan reports (the image size); uploads come after.
    scanned: u64,
    seen: std::sync::atomic::AtomicU64,
    acquired: std::sync::Mutex<Option<bool>>,
}

impl vmbackup_backupstore::Progress for LockStateAtFirstUpload {
    fn advance(&self, bytes: u64) {
        let before = self
            .seen
            .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
        if before != self.scanned {
            return;
        }
        let locks = self.root.join(layout::locks_dir("vol").unwrap());
        let acquired = std::fs::read_dir(locks).unwrap().any(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .contains("\"Acquired\":true")
        });
        *self.acquired.lock().unwrap() = Some(acquired);
    }
}

#[tokio::test]
async fn an_import_uploads_while_its_lock_settles() {
    let (dir, target) = local_target();
    let target = target.with_lock_settle(Duration::from_secs(3));
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, (4 * BS) as usize, Fill::Random(9))]);
    let progress = LockStateAtFirstUpload {
        root: dir.path().to_path_buf(),
        scanned: 4 * BS,
        seen: 0.into(),
        acquired: None.into(),
    };
    let s = target
        .import_raw("vol", &image, &opts(), &progress)
        .await
        .unwrap();
    assert_eq!(s.blocks_uploaded, 4);
    assert_eq!(
        *progress.acquired.lock().unwrap(),
        Some(false),
        "the first block went up before the lock was acquired"
    );
    let cfg = target.backup_config("vol", &s.backup).await.unwrap();
    assert!(cfg.is_complete());
}
