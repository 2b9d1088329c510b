//! A raw image goes in as a Longhorn backup and comes back out identical.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use vmbackup_backupstore::{
    BackupState, Compression, Error, ExportOptions, ImportOptions, NoProgress, Target,
};

const BS: u64 = 64 << 10;

fn opts(compression: Compression) -> ImportOptions {
    ImportOptions {
        compression,
        block_size: BS,
        ..Default::default()
    }
}

fn export_opts() -> ExportOptions {
    ExportOptions {
        fsync: false,
        ..Default::default()
    }
}

async fn export(
    target: &Target,
    dir: &std::path::Path,
    volume: &str,
    backup: &str,
    name: &str,
) -> std::path::PathBuf {
    let out = dir.join(name);
    target
        .export_raw(volume, backup, &out, &export_opts(), &NoProgress)
        .await
        .unwrap();
    out
}

/// An image with everything an image can hold: holes, random data, allocated
/// zeros, a block that is zero but for one byte, and a partial last block.
fn mixed_image(path: &std::path::Path) -> u64 {
    let size = 40 * BS + 12345;
    make_image(
        path,
        size,
        &[
            (0, (3 * BS) as usize, Fill::Random(1)),
            (5 * BS, BS as usize, Fill::Zeros),
            (7 * BS + 100, 10, Fill::Byte(0xab)),
            (10 * BS, (2 * BS) as usize, Fill::Byte(1)),
            (20 * BS + 17, (4 * BS) as usize, Fill::Random(2)),
            (40 * BS, 12345, Fill::Random(3)),
        ],
    );
    size
}

#[tokio::test]
async fn every_compression_round_trips_with_holes_kept() {
    for compression in [Compression::Lz4, Compression::Gzip, Compression::None] {
        let (_dir, target) = local_target();
        let work = tempfile::tempdir().unwrap();
        let image = work.path().join("disk.img");
        let size = mixed_image(&image);
        let summary = target
            .import_raw("vol-1", &image, &opts(compression), &NoProgress)
            .await
            .unwrap();
        assert_eq!(summary.compression, compression);
        assert!(!summary.incremental);
        assert_eq!(summary.image_size, size);
        // 3 random + marker block + 2 ones blocks (deduplicated to 1 file) + 5 random + tail.
        assert_eq!(summary.blocks, 3 + 1 + 2 + 5 + 1);
        assert_eq!(summary.blocks_uploaded, summary.blocks - 1);

        let out = export(&target, work.path(), "vol-1", &summary.backup, "out.img").await;
        assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
        assert_eq!(sha256_file(&out), sha256_file(&image), "{compression}");
        assert!(allocated_bytes(&out) < size / 2, "export is not sparse");
        // Nothing temporary is left beside the output.
        let names: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        let cfg = target
            .backup_config("vol-1", &summary.backup)
            .await
            .unwrap();
        assert_eq!(cfg.compression_method, compression.as_str());
        assert!(cfg.is_complete());
        let vol = target.volume_config("vol-1").await.unwrap();
        assert_eq!(vol.last_backup_name, summary.backup);
        assert_eq!(
            vol.size as u64 % (2 << 20),
            0,
            "volume size is rounded for Longhorn"
        );
        assert_eq!(vol.block_count as u64, summary.blocks_uploaded);
    }
}

#[tokio::test]
async fn default_block_size_and_empty_image() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 5 << 20, &[(1 << 20, 4096, Fill::Random(9))]);
    let s = target
        .import_raw("vol-2", &image, &ImportOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(s.blocks, 1);
    let cfg = target.backup_config("vol-2", &s.backup).await.unwrap();
    assert_eq!(cfg.block_size("x").unwrap(), 2 << 20);
    let out = export(&target, work.path(), "vol-2", &s.backup, "out.img").await;
    assert_eq!(sha256_file(&out), sha256_file(&image));

    let empty = work.path().join("empty.img");
    make_image(&empty, 3 << 20, &[]);
    let s = target
        .import_raw("vol-3", &empty, &ImportOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(s.blocks, 0);
    let out = export(&target, work.path(), "vol-3", &s.backup, "empty-out.img").await;
    assert_eq!(sha256_file(&out), sha256_file(&empty));
}

#[tokio::test]
async fn incremental_uploads_only_changed_blocks() {
    let (_dir, target, counter) = counting_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    let blocks = 200u64;
    make_image(
        &image,
        blocks * BS,
        &[(0, (blocks * BS) as usize, Fill::Random(5))],
    );
    let first = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert_eq!(counter.block_puts(), blocks);
    let before = sha256_file(&image);

    // Change 1% of the blocks.
    patch_image(&image, 17 * BS + 3, b"changed");
    patch_image(&image, 150 * BS, &random_bytes(77, BS as usize));
    counter.reset();
    let second = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        counter.block_puts(),
        2,
        "only the two changed blocks are uploaded"
    );
    assert!(second.incremental);
    assert_eq!(
        (second.blocks_uploaded, second.blocks_reused),
        (2, blocks - 2)
    );
    let cfg = target.backup_config("vol", &second.backup).await.unwrap();
    assert!(cfg.is_incremental);
    assert_eq!(cfg.blocks.len() as u64, blocks);

    let a = export(&target, work.path(), "vol", &first.backup, "a.img").await;
    let b = export(&target, work.path(), "vol", &second.backup, "b.img").await;
    assert_eq!(sha256_file(&a), before);
    assert_eq!(sha256_file(&b), sha256_file(&image));
}

#[tokio::test]
async fn data_that_became_zeros_and_zeros_that_became_data() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 8 * BS, &[(0, (4 * BS) as usize, Fill::Random(11))]);
    let v1 = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    let sum1 = sha256_file(&image);

    // Block 1 becomes zeros (written), block 2 is punched to a hole by
    // rewriting the file, block 6 gains data.
    let data = std::fs::read(&image).unwrap();
    std::fs::remove_file(&image).unwrap();
    make_image(&image, 8 * BS, &[]);
    patch_image(&image, 0, &data[..BS as usize]);
    patch_image(&image, BS, &vec![0u8; BS as usize]);
    patch_image(&image, 3 * BS, &data[3 * BS as usize..4 * BS as usize]);
    patch_image(&image, 6 * BS + 5, b"new data");
    let v2 = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert!(v2.incremental);
    let cfg = target.backup_config("vol", &v2.backup).await.unwrap();
    let offsets: Vec<u64> = cfg.blocks.iter().map(|b| b.offset / BS).collect();
    assert_eq!(
        offsets,
        vec![0, 3, 6],
        "zeroed blocks are not inherited from the base"
    );

    let a = export(&target, work.path(), "vol", &v1.backup, "a.img").await;
    let b = export(&target, work.path(), "vol", &v2.backup, "b.img").await;
    assert_eq!(sha256_file(&a), sum1);
    assert_eq!(sha256_file(&b), sha256_file(&image));
}

#[tokio::test]
async fn a_backup_with_another_block_size_is_a_full_backup() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    mixed_image(&image);
    let first = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    let other = ImportOptions {
        block_size: 2 * BS,
        ..opts(Compression::Lz4)
    };
    let second = target
        .import_raw("vol", &image, &other, &NoProgress)
        .await
        .unwrap();
    assert!(
        !second.incremental,
        "no blocks in common with {}",
        first.backup
    );
    let cfg = target.backup_config("vol", &second.backup).await.unwrap();
    assert!(!cfg.is_incremental);
    // Both still restore the image.
    for b in [&first.backup, &second.backup] {
        let out = export(&target, work.path(), "vol", b, b).await;
        assert_eq!(sha256_file(&out), sha256_file(&image), "{b}");
    }
    // The next backup with the same block size is incremental again.
    let third = target
        .import_raw("vol", &image, &other, &NoProgress)
        .await
        .unwrap();
    assert!(third.incremental);
    assert_eq!(third.blocks_uploaded, 0);
}

#[tokio::test]
async fn compression_of_a_volume_is_sticky() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, BS as usize, Fill::Random(1))]);
    target
        .import_raw("vol", &image, &opts(Compression::Gzip), &NoProgress)
        .await
        .unwrap();
    patch_image(&image, 2 * BS, b"more");
    let s = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert_eq!(s.compression, Compression::Gzip);
    let cfg = target.backup_config("vol", &s.backup).await.unwrap();
    assert_eq!(cfg.compression_method, "gzip");
}

#[tokio::test]
async fn a_volume_whose_volume_cfg_is_missing_takes_no_new_backup() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.img");
    make_image(&big, 8 * BS, &[(0, 10, Fill::Byte(3))]);
    target
        .import_raw("vol", &big, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    let cfg = dir
        .path()
        .join(vmbackup_backupstore::layout::volume_cfg("vol").unwrap());
    std::fs::remove_file(&cfg).unwrap();
    let before = std::fs::read_dir(cfg.parent().unwrap().join("backups"))
        .unwrap()
        .count();

    let small = work.path().join("small.img");
    make_image(&small, 2 * BS, &[(0, 10, Fill::Byte(4))]);
    let e = target
        .import_raw("vol", &small, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ImportRefused { .. }), "{e}");
    assert!(e.to_string().contains("volume.cfg is missing"), "{e}");
    // Nothing was written: no volume.cfg, no new backup config.
    assert!(!cfg.exists());
    let after = std::fs::read_dir(cfg.parent().unwrap().join("backups"))
        .unwrap()
        .count();
    assert_eq!(after, before);
}

#[tokio::test]
async fn backup_names_are_never_reused() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 2 * BS, &[(0, 10, Fill::Byte(3))]);
    let mut o = opts(Compression::Lz4);
    o.backup_name = Some("backup-fixed".into());
    target
        .import_raw("vol", &image, &o, &NoProgress)
        .await
        .unwrap();
    let e = target
        .import_raw("vol", &image, &o, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    o.backup_name = Some("../escape".into());
    assert!(matches!(
        target
            .import_raw("vol", &image, &o, &NoProgress)
            .await
            .unwrap_err(),
        Error::InvalidName { .. }
    ));
}

#[tokio::test]
async fn an_interrupted_import_leaves_only_an_in_progress_config() {
    let (_dir, target, counter) = counting_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 20 * BS, &[(0, (20 * BS) as usize, Fill::Random(8))]);
    let good = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();

    patch_image(&image, 0, &random_bytes(99, (10 * BS) as usize));
    counter.stall_blocks_after.store(
        counter.block_puts() + 3,
        std::sync::atomic::Ordering::SeqCst,
    );
    let mut o = opts(Compression::Lz4);
    o.backup_name = Some("backup-cut".into());
    let run = target.import_raw("vol", &image, &o, &NoProgress);
    // Drop the import once an upload has stalled (however slow the machine),
    // as an interruption would.
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        tokio::select! {
            r = run => panic!("the import should have stalled, it ended with {:?}", r.map(|s| s.backup)),
            () = counter.stalled.notified() => {}
        }
    })
    .await;
    assert!(
        stalled.is_ok(),
        "no block upload stalled within two minutes"
    );
    counter
        .stall_blocks_after
        .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);

    let summaries = target.backup_summaries("vol").await.unwrap();
    let states: Vec<_> = summaries
        .iter()
        .map(|s| (s.name.clone(), s.state()))
        .collect();
    assert!(
        states.contains(&("backup-cut".to_string(), Some(BackupState::InProgress))),
        "{states:?}"
    );
    assert!(states.contains(&(good.backup.clone(), Some(BackupState::Complete))));
    let vol = target.volume_config("vol").await.unwrap();
    assert_eq!(vol.last_backup_name, good.backup);
    let e = target
        .export_raw(
            "vol",
            "backup-cut",
            &work.path().join("x.img"),
            &export_opts(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InProgress { .. }), "{e}");
    assert!(!work.path().join("x.img").exists());
}

/// Runs `then` once, when progress has reached `bytes`.
struct AfterBytes {
    bytes: u64,
    seen: std::sync::atomic::AtomicU64,
    then: Box<dyn Fn() + Send + Sync>,
}

impl vmbackup_backupstore::Progress for AfterBytes {
    fn advance(&self, bytes: u64) {
        let before = self
            .seen
            .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
        if before < self.bytes && before + bytes >= self.bytes {
            (self.then)();
        }
    }
}

#[tokio::test]
async fn an_image_that_changes_during_import_leaves_no_backup() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 8 * BS, &[(0, (8 * BS) as usize, Fill::Random(8))]);
    let good = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();

    patch_image(&image, 0, b"first change");
    // The image changes again once it has been scanned (8 blocks), before
    // the changed block is read again to be uploaded.
    let progress = AfterBytes {
        bytes: 8 * BS,
        seen: 0.into(),
        then: Box::new({
            let img = image.clone();
            move || patch_image(&img, 0, b"second change")
        }),
    };
    let e = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &progress)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ImageChanged { offset: 0, .. }), "{e}");
    assert_eq!(
        target.list_backups("vol").await.unwrap().backups,
        vec![good.backup.clone()]
    );
    assert_eq!(
        target.volume_config("vol").await.unwrap().last_backup_name,
        good.backup
    );
}

#[tokio::test]
async fn another_writers_placeholder_is_never_touched() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 2 * BS, &[(0, 10, Fill::Byte(3))]);
    let rel = vmbackup_backupstore::layout::backup_cfg("vol", "backup-theirs").unwrap();
    let placeholder =
        vmbackup_backupstore::BackupConfig::in_progress("backup-theirs", "vol", Compression::Lz4);
    std::fs::create_dir_all(dir.path().join(&rel).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(&rel), placeholder.to_json()).unwrap();
    let mut o = opts(Compression::Lz4);
    o.backup_name = Some("backup-theirs".into());
    let e = target
        .import_raw("vol", &image, &o, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    assert_eq!(
        std::fs::read(dir.path().join(&rel)).unwrap(),
        placeholder.to_json()
    );
}

/// Lock files left anywhere under the target's directory, looked up
/// without yielding to the runtime (so a lock removed in the background
/// later does not count as released).
fn lock_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "lck") {
                out.push(p);
            }
        }
    }
    out
}

/// An error and its sources, joined the way `{:#}` prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(&format!(": {s}"));
        next = s.source();
    }
    text
}

#[tokio::test]
async fn a_failed_export_releases_its_lock_and_names_the_given_path_once() {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 1 << 20, &[(0, 4096, Fill::Random(3))]);
    let s = target
        .import_raw("vol-1", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert!(lock_files(dir.path()).is_empty());

    let dest = work.path().join("nonexistent/dir/x.raw");
    let e = target
        .export_raw("vol-1", &s.backup, &dest, &export_opts(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        lock_files(dir.path()).is_empty(),
        "lock left behind: {:?}",
        lock_files(dir.path())
    );
    let text = chain(&e);
    assert!(text.contains(&dest.display().to_string()), "{text}");
    assert!(!text.contains(".partial-"), "{text}");
    assert_eq!(text.matches("does not exist").count(), 1, "{text}");
    assert!(text.contains("its folder"), "{text}");
}

#[tokio::test]
async fn with_the_fingerprint_cache_only_changed_blocks_are_hashed() {
    let (_dir, target, counter) = counting_target();
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    let blocks = 100u64;
    make_image(
        &image,
        blocks * BS,
        &[(0, (blocks * BS) as usize, Fill::Random(21))],
    );
    let cached = ImportOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..opts(Compression::Lz4)
    };
    let first = target
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.blocks_hashed, blocks, "nothing is known at first");

    // One block changes, one becomes zeros, one changes back and forth to
    // content seen elsewhere in the image (a block moved).
    patch_image(&image, 5 * BS + 9, b"changed");
    patch_image(&image, 40 * BS, &vec![0u8; BS as usize]);
    let moved = std::fs::read(&image).unwrap()[(70 * BS) as usize..(71 * BS) as usize].to_vec();
    patch_image(&image, 80 * BS, &moved);
    counter.reset();
    let second = target
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        second.blocks_hashed, 2,
        "only the changed and the moved block are hashed"
    );
    assert_eq!(counter.block_puts(), 1, "the moved block is already stored");
    assert_eq!((second.blocks, second.zero_blocks), (blocks - 1, 1));
    let out = export(&target, work.path(), "vol", &second.backup, "b.img").await;
    assert_eq!(sha256_file(&out), sha256_file(&image));

    // Unchanged: nothing is hashed, nothing uploaded; without the cache,
    // everything is hashed again.
    let third = target
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    assert_eq!((third.blocks_hashed, third.blocks_uploaded), (0, 0));
    let fourth = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    assert_eq!(fourth.blocks_hashed, blocks - 1);
    let cfg3 = target.backup_config("vol", &third.backup).await.unwrap();
    let cfg4 = target.backup_config("vol", &fourth.backup).await.unwrap();
    assert_eq!(
        cfg3.blocks, cfg4.blocks,
        "the cache never changes a checksum"
    );
}

#[tokio::test]
async fn the_fingerprint_cache_serves_a_target_however_its_path_is_spelled() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("target");
    std::fs::create_dir(&dir).unwrap();
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 20 * BS, &[(0, (20 * BS) as usize, Fill::Random(5))]);
    let cached = ImportOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..opts(Compression::Lz4)
    };
    let open = |path: std::path::PathBuf| {
        Target::local(&path)
            .unwrap()
            .with_lock_settle(std::time::Duration::from_millis(1))
    };
    open(dir.clone())
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    patch_image(&image, 3 * BS, b"changed");
    // The same directory, spelled with `.` and a trailing slash.
    let respelled = root.path().join(".").join("target/");
    let second = open(respelled)
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    assert_eq!(second.blocks_hashed, 1, "only the changed block is hashed");
    assert_eq!(
        open(dir.clone()).identity(),
        open(root.path().join("./target/")).identity()
    );
}

#[tokio::test]
async fn a_failed_import_leaves_the_fingerprint_cache_as_it_was() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, (4 * BS) as usize, Fill::Random(4))]);
    let cached = ImportOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..opts(Compression::Lz4)
    };
    target
        .import_raw("vol", &image, &cached, &NoProgress)
        .await
        .unwrap();
    let files = || {
        let mut v: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (p.clone(), std::fs::read(p).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = files();
    assert_eq!(before.len(), 1);
    patch_image(&image, 0, b"new data");
    let taken = ImportOptions {
        backup_name: Some(target.list_backups("vol").await.unwrap().backups[0].clone()),
        ..cached
    };
    let e = target
        .import_raw("vol", &image, &taken, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    assert_eq!(files(), before, "no new records and no temporary file");
}

#[tokio::test]
async fn blocks_collected_while_the_lock_settles_are_uploaded_again() {
    let (dir, target, counter) = counting_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 6 * BS, &[(0, (6 * BS) as usize, Fill::Random(6))]);
    target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    // The next import finds every block on the target while its lock
    // settles (Longhorn's 2 s: finding 6 small blocks takes far less);
    // then, just as the lock is acquired, a deletion collects them all.
    let target = target.with_lock_settle(std::time::Duration::from_secs(2));
    let blocks = dir
        .path()
        .join(vmbackup_backupstore::layout::blocks_dir("vol").unwrap());
    *counter.on_lock_acquired.lock().unwrap() = Some(Box::new(move || {
        let _ = std::fs::remove_dir_all(&blocks);
    }));
    counter.reset();
    let s = target
        .import_raw("vol", &image, &opts(Compression::Lz4), &NoProgress)
        .await
        .unwrap();
    *counter.on_lock_acquired.lock().unwrap() = None;
    assert_eq!((s.blocks_reused, s.blocks_restored), (0, 6), "{s:?}");
    assert_eq!(counter.block_puts(), 6);
    let out = export(&target, work.path(), "vol", &s.backup, "out.img").await;
    assert_eq!(sha256_file(&out), sha256_file(&image));
}

/// Records the phases an operation announces and the bytes done in each.
#[derive(Default)]
struct Phases(std::sync::Mutex<Vec<(String, u64, u64)>>);

impl vmbackup_backupstore::Progress for Phases {
    fn phase(&self, name: &str, total: u64) {
        self.0.lock().unwrap().push((name.to_owned(), total, 0));
    }
    fn advance(&self, bytes: u64) {
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            last.2 += bytes;
        }
    }
}

#[tokio::test]
async fn an_import_reports_reading_then_uploading_each_to_its_end() {
    let (_dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    let size = mixed_image(&image);
    for round in 0..2 {
        let phases = Phases::default();
        let s = target
            .import_raw("vol", &image, &opts(Compression::Lz4), &phases)
            .await
            .unwrap();
        let seen = phases.0.into_inner().unwrap();
        let uploaded = s.blocks_uploaded * BS;
        assert_eq!(
            seen,
            [
                ("read".to_owned(), size, size),
                ("upload".to_owned(), uploaded, uploaded)
            ],
            "round {round}"
        );
    }
}
