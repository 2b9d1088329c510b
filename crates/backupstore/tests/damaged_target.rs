//! A target written by someone else may be damaged or hostile. Every problem
//! is a typed error naming the file (and field), nothing panics, and nothing
//! outside the target is touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use vmbackup_backupstore::{
    BackupConfig, Compression, Error, ExportOptions, ImportOptions, NoProgress, Problem, Target,
    VerifyOptions, VolumeConfig, layout,
};

const BS: u64 = 64 << 10;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    target: Target,
    work: tempfile::TempDir,
    backup: String,
}

/// A target with one good backup of volume `vol` (4 data blocks).
async fn fixture(compression: Compression) -> Fixture {
    let (dir, target) = local_target();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 6 * BS, &[(0, (4 * BS) as usize, Fill::Random(3))]);
    let s = target
        .import_raw(
            "vol",
            &image,
            &ImportOptions {
                compression,
                block_size: BS,
                ..Default::default()
            },
            &NoProgress,
        )
        .await
        .unwrap();
    Fixture {
        root: dir.path().to_owned(),
        _dir: dir,
        target,
        work,
        backup: s.backup,
    }
}

impl Fixture {
    fn file(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn backup_cfg_path(&self) -> String {
        layout::backup_cfg("vol", &self.backup).unwrap()
    }
    fn write(&self, rel: &str, data: &[u8]) {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    fn edit_backup_cfg(&self, f: impl FnOnce(&mut BackupConfig)) {
        let rel = self.backup_cfg_path();
        let mut cfg =
            BackupConfig::from_json(&std::fs::read(self.file(&rel)).unwrap(), &rel).unwrap();
        f(&mut cfg);
        self.write(&rel, &cfg.to_json());
    }
    fn first_block_file(&self) -> PathBuf {
        let cfg_rel = self.backup_cfg_path();
        let cfg = BackupConfig::from_json(&std::fs::read(self.file(&cfg_rel)).unwrap(), &cfg_rel)
            .unwrap();
        self.file(&layout::block_path("vol", &cfg.blocks[0].checksum).unwrap())
    }
    async fn export(&self) -> Result<(), Error> {
        let out = self.work.path().join("out.img");
        let r = self
            .target
            .export_raw(
                "vol",
                &self.backup,
                &out,
                &ExportOptions {
                    fsync: false,
                    ..Default::default()
                },
                &NoProgress,
            )
            .await;
        if r.is_err() {
            assert!(
                !out.exists(),
                "a failed export left a file under the final name"
            );
            let leftovers: Vec<_> = std::fs::read_dir(self.work.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().contains("partial"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
        r.map(drop)
    }
    async fn verify(&self) -> vmbackup_backupstore::VerifyReport {
        self.target
            .verify_volume("vol", None, &VerifyOptions::default(), &NoProgress)
            .await
            .unwrap()
    }
}

fn assert_field(e: &Error, path: &str, field: &str) {
    match e {
        Error::Field {
            path: p, field: f, ..
        } => {
            assert_eq!(p, path, "{e}");
            assert_eq!(f, field, "{e}");
        }
        other => panic!("expected a field error on {path} {field}, got {other}"),
    }
}

#[tokio::test]
async fn corrupt_blocks_are_reported_with_their_file_and_users() {
    for compression in [Compression::Lz4, Compression::Gzip, Compression::None] {
        let f = fixture(compression).await;
        let block = f.first_block_file();
        let mut data = std::fs::read(&block).unwrap();
        let mid = data.len() / 2;
        data[mid] ^= 0x55;
        std::fs::write(&block, &data).unwrap();
        let e = f.export().await.unwrap_err();
        assert!(
            matches!(e, Error::Checksum { .. } | Error::Block { .. }),
            "{compression}: {e}"
        );
        assert!(e.to_string().contains(".blk"), "{e}");

        let report = f.verify().await;
        assert_eq!(report.problems.len(), 1, "{compression}: {report:?}");
        match &report.problems[0] {
            Problem::Block { path, used_by, .. } => {
                assert!(block.ends_with(path), "{path}");
                assert_eq!(used_by[0].backup, f.backup);
                assert_eq!(used_by[0].offset, 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(report.blocks_checked, 4);
    }
}

/// A block whose LZ4 content checksum is wrong while its data is right:
/// Longhorn's reader refuses the file, so `verify` reports it; the data is
/// still the backed-up data (its SHA-512 matches), so an export gives it.
#[tokio::test]
async fn a_wrong_lz4_content_checksum_is_damage_for_verify_but_not_for_the_data() {
    let f = fixture(Compression::Lz4).await;
    let block = f.first_block_file();
    let mut data = std::fs::read(&block).unwrap();
    let end = data.len();
    data[end - 1] ^= 0x01;
    std::fs::write(&block, &data).unwrap();

    let report = f.verify().await;
    assert_eq!(report.problems.len(), 1, "{report:?}");
    match &report.problems[0] {
        Problem::Block { path, error, .. } => {
            assert!(block.ends_with(path), "{path}");
            assert!(error.to_string().contains("content checksum"), "{error}");
        }
        other => panic!("{other:?}"),
    }

    f.export().await.unwrap();
    let exported = std::fs::read(f.work.path().join("out.img")).unwrap();
    assert_eq!(
        exported,
        std::fs::read(f.work.path().join("disk.img")).unwrap()
    );
}

#[tokio::test]
async fn truncated_missing_and_oversized_blocks() {
    let f = fixture(Compression::Lz4).await;
    let block = f.first_block_file();
    let data = std::fs::read(&block).unwrap();
    std::fs::write(&block, &data[..data.len() / 3]).unwrap();
    assert!(matches!(f.export().await.unwrap_err(), Error::Block { .. }));

    std::fs::remove_file(&block).unwrap();
    let e = f.export().await.unwrap_err();
    assert!(
        matches!(&e, Error::NotFound { path } if block.ends_with(path)),
        "{e}"
    );

    std::fs::File::create(&block)
        .unwrap()
        .set_len(BS * 4)
        .unwrap();
    assert!(matches!(
        f.export().await.unwrap_err(),
        Error::TooLarge { .. }
    ));
    let report = f.verify().await;
    assert!(matches!(
        report.problems[0],
        Problem::Block {
            error: Error::TooLarge { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn configs_that_point_outside_their_volume() {
    let f = fixture(Compression::Lz4).await;
    let rel = f.backup_cfg_path();
    let original = std::fs::read(f.file(&rel)).unwrap();

    f.edit_backup_cfg(|c| c.volume_name = "other-volume".into());
    assert_field(&f.export().await.unwrap_err(), &rel, "VolumeName");

    std::fs::write(f.file(&rel), &original).unwrap();
    f.edit_backup_cfg(|c| c.name = "backup-other".into());
    assert_field(&f.export().await.unwrap_err(), &rel, "Name");

    std::fs::write(f.file(&rel), &original).unwrap();
    f.edit_backup_cfg(|c| c.blocks[1].offset += 512);
    assert_field(&f.export().await.unwrap_err(), &rel, "Blocks[1].Offset");

    std::fs::write(f.file(&rel), &original).unwrap();
    f.edit_backup_cfg(|c| c.blocks[3].offset = 1 << 40);
    assert_field(&f.export().await.unwrap_err(), &rel, "Blocks[3].Offset");

    std::fs::write(f.file(&rel), &original).unwrap();
    f.edit_backup_cfg(|c| c.blocks[2].offset = c.blocks[1].offset);
    assert_field(&f.export().await.unwrap_err(), &rel, "Blocks[2].Offset");

    let text = String::from_utf8(original.clone()).unwrap();
    let first_sum = text.split("\"BlockChecksum\":\"").nth(1).unwrap()[..64].to_owned();
    let hostile = text.replacen(&first_sum, "../../../../../../../../etc/passwd", 1);
    std::fs::write(f.file(&rel), hostile).unwrap();
    assert_field(
        &f.export().await.unwrap_err(),
        &rel,
        "Blocks[0].BlockChecksum",
    );

    let negative = text.replacen("\"Offset\":0", "\"Offset\":-2097152", 1);
    std::fs::write(f.file(&rel), negative).unwrap();
    assert_field(&f.export().await.unwrap_err(), &rel, "Blocks[0].Offset");

    let bad_size = text.replacen(
        "\"backup-block-size\":\"65536\"",
        "\"backup-block-size\":\"1Ti\"",
        1,
    );
    std::fs::write(f.file(&rel), bad_size).unwrap();
    assert_field(
        &f.export().await.unwrap_err(),
        &rel,
        "Parameters[\"backup-block-size\"]",
    );

    let bad_compression = text.replacen(
        "\"CompressionMethod\":\"lz4\"",
        "\"CompressionMethod\":\"zstd\"",
        1,
    );
    std::fs::write(f.file(&rel), bad_compression).unwrap();
    assert_field(&f.export().await.unwrap_err(), &rel, "CompressionMethod");

    // Verification lists the config problem instead of stopping.
    let report = f.verify().await;
    assert!(matches!(&report.problems[0], Problem::Config { backup, .. } if *backup == f.backup));
}

#[tokio::test]
async fn a_recorded_image_size_that_does_not_fit_is_damage_for_export_and_verify_alike() {
    let f = fixture(Compression::Lz4).await;
    let rel = f.backup_cfg_path();
    let original = std::fs::read(f.file(&rel)).unwrap();
    let field = "Labels[\"vmbackup.io/image-size\"]";
    // Not a byte count; past the end of the volume; short of the stored
    // blocks (4 blocks of data).
    for bad in [
        "-5".to_owned(),
        "99999999999999".to_owned(),
        (3 * BS).to_string(),
    ] {
        std::fs::write(f.file(&rel), &original).unwrap();
        f.edit_backup_cfg(|c| {
            c.labels
                .get_or_insert_with(Default::default)
                .insert("vmbackup.io/image-size".into(), bad.clone());
        });
        assert_field(&f.export().await.unwrap_err(), &rel, field);
        let report = f.verify().await;
        match &report.problems[..] {
            [Problem::Config { backup, error }] => {
                assert_eq!(*backup, f.backup, "{bad}");
                assert_field(error, &rel, field);
            }
            other => panic!("{bad}: expected one config problem, got {other:?}"),
        }
    }
    // A size that fits is used by both.
    std::fs::write(f.file(&rel), &original).unwrap();
    f.edit_backup_cfg(|c| {
        c.labels
            .get_or_insert_with(Default::default)
            .insert("vmbackup.io/image-size".into(), (5 * BS + 7).to_string());
    });
    f.export().await.unwrap();
    assert!(f.verify().await.problems.is_empty());
}

#[tokio::test]
async fn malformed_and_oversized_config_files() {
    let f = fixture(Compression::Lz4).await;
    let vol_rel = layout::volume_cfg("vol").unwrap();
    let vol_bytes = std::fs::read(f.file(&vol_rel)).unwrap();
    let text = String::from_utf8(vol_bytes.clone()).unwrap();

    std::fs::write(f.file(&vol_rel), &vol_bytes[..vol_bytes.len() / 2]).unwrap();
    let e = f.target.volume_config("vol").await.unwrap_err();
    assert!(
        matches!(&e, Error::Json { path, .. } if *path == vol_rel),
        "{e}"
    );

    std::fs::write(f.file(&vol_rel), b"").unwrap();
    assert!(matches!(
        f.target.volume_config("vol").await.unwrap_err(),
        Error::Json { .. }
    ));

    // Go rejects a single-encoded ,string field; so do we.
    std::fs::write(f.file(&vol_rel), text.replace("\"\\\"lz4\\\"\"", "\"lz4\"")).unwrap();
    assert_field(
        &f.target.volume_config("vol").await.unwrap_err(),
        &vol_rel,
        "CompressionMethod",
    );

    let unquoted =
        text.replacen("\"Size\":\"", "\"Size\":", 1)
            .replacen("\",\"Labels\"", ",\"Labels\"", 1);
    std::fs::write(f.file(&vol_rel), unquoted).unwrap();
    assert_field(
        &f.target.volume_config("vol").await.unwrap_err(),
        &vol_rel,
        "Size",
    );

    std::fs::write(
        f.file(&vol_rel),
        text.replace("\"Name\":\"vol\"", "\"Name\":\"elsewhere\""),
    )
    .unwrap();
    assert_field(
        &f.target.volume_config("vol").await.unwrap_err(),
        &vol_rel,
        "Name",
    );

    std::fs::File::create(f.file(&vol_rel))
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    assert!(matches!(
        f.target.volume_config("vol").await.unwrap_err(),
        Error::TooLarge { .. }
    ));
    // An import refuses to touch a volume whose volume.cfg it cannot read.
    let image = f.work.path().join("disk.img");
    assert!(
        f.target
            .import_raw(
                "vol",
                &image,
                &ImportOptions {
                    block_size: BS,
                    ..Default::default()
                },
                &NoProgress
            )
            .await
            .is_err()
    );
    assert_eq!(std::fs::metadata(f.file(&vol_rel)).unwrap().len(), 2 << 20);
    std::fs::write(f.file(&vol_rel), &vol_bytes).unwrap();

    let rel = f.backup_cfg_path();
    std::fs::File::create(f.file(&rel))
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let e = f.target.backup_config("vol", &f.backup).await.unwrap_err();
    assert!(
        matches!(&e, Error::TooLarge { path, .. } if *path == rel),
        "{e}"
    );
    std::fs::write(f.file(&rel), b"{\"Name\": [").unwrap();
    assert!(matches!(
        f.target.backup_config("vol", &f.backup).await.unwrap_err(),
        Error::Json { .. }
    ));
}

#[tokio::test]
async fn hostile_names_in_listings_are_skipped() {
    let f = fixture(Compression::Lz4).await;
    f.write("backupstore/volumes/47/e3/bad name/volume.cfg", b"{}");
    f.write("backupstore/volumes/00/00/vol/volume.cfg", b"{}");
    f.write("backupstore/volumes/zz/e3/x/volume.cfg", b"{}");
    f.write(
        "backupstore/volumes/22/fc/BACKINGIMAGE/locks/lock-0123456789ab4def.lck",
        b"{}",
    );
    let backups = layout::backups_dir("vol").unwrap();
    f.write(&format!("{backups}/backup_-bad.cfg"), b"{}");
    f.write(&format!("{backups}/backup_x.cfg.tmp.12345"), b"{}");
    f.write(&format!("{backups}/notes.txt"), b"hello");

    let vols = f.target.list_volumes().await.unwrap();
    assert_eq!(vols.volumes, vec!["vol".to_string()]);
    assert_eq!(vols.ignored.len(), 4, "{:?}", vols.ignored);
    let list = f.target.list_backups("vol").await.unwrap();
    assert_eq!(list.backups, vec![f.backup.clone()]);
    assert_eq!(list.ignored.len(), 1);

    for bad in ["..", "../vol", "vol/x", "a", "-x", "x y", ""] {
        assert!(
            matches!(
                f.target.volume_config(bad).await.unwrap_err(),
                Error::InvalidName { .. }
            ),
            "{bad}"
        );
        assert!(
            matches!(
                f.target.backup_config("vol", bad).await.unwrap_err(),
                Error::InvalidName { .. }
            ),
            "{bad}"
        );
    }
    // Garbage lock files do not stop us, and are left alone.
    let locks = layout::locks_dir("vol").unwrap();
    f.write(&format!("{locks}/lock-garbage.lck"), b"\x00\x01not json");
    f.export().await.unwrap();
    assert!(f.file(&format!("{locks}/lock-garbage.lck")).exists());
}

#[tokio::test]
async fn nothing_outside_the_target_root_is_used() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("target");
    std::fs::create_dir(&root).unwrap();
    let secret = outer.path().join("secret.cfg");
    std::fs::write(&secret, b"do not touch").unwrap();
    let target = Target::open(root.to_str().unwrap(), &Default::default())
        .await
        .unwrap();
    for name in ["../secret", "..", "x/../../secret"] {
        assert!(target.volume_config(name).await.is_err());
        assert!(target.read_vm_backup_metadata(name, "x").await.is_err());
        assert!(
            target
                .read_vm_backup_metadata("default", name)
                .await
                .is_err()
        );
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"do not touch");
    let all: Vec<_> = walk(outer.path());
    assert_eq!(
        all,
        vec![secret.clone()],
        "nothing was created outside or inside"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = VolumeConfig::from_json(&data, "v.cfg");
            let _ = BackupConfig::from_json(&data, "b.cfg");
            let _ = vmbackup_backupstore::VmBackupMetadata::from_json(&data, "m.cfg");
            for m in [Compression::None, Compression::Gzip, Compression::Lz4] {
                let _ = vmbackup_backupstore::block::decompress(m, &data, 4096, "x.blk");
            }
        }

        #[test]
        fn json_like_input_never_panics(s in "\\{(\"[A-Za-z]{0,12}\":(\"[^\"]{0,10}\"|-?[0-9]{1,22}|null|true|\\[\\]|\\{\\}),?){0,8}\\}") {
            let _ = VolumeConfig::from_json(s.as_bytes(), "v.cfg");
            if let Ok(cfg) = BackupConfig::from_json(s.as_bytes(), "b.cfg") {
                let _ = cfg.validate("b.cfg", "vol", "backup-1", Some(1 << 30));
                // What we write reads back and writes again identically.
                let once = cfg.to_json();
                let again = BackupConfig::from_json(&once, "b.cfg").unwrap();
                prop_assert_eq!(again.to_json(), once);
            }
        }
    }
}

#[tokio::test]
async fn symbolic_links_never_lead_out_of_a_local_target() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("target");
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let target = Target::open(root.to_str().unwrap(), &Default::default())
        .await
        .unwrap()
        .with_lock_settle(std::time::Duration::from_millis(1));
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    make_image(&image, 4 * BS, &[(0, (2 * BS) as usize, Fill::Random(1))]);
    let opts = ImportOptions {
        block_size: BS,
        ..Default::default()
    };

    // A volume directory that is a link to somewhere else.
    let vol_dir = root.join(layout::volume_dir("linked").unwrap());
    std::fs::create_dir_all(vol_dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &vol_dir).unwrap();
    std::fs::write(elsewhere.join("volume.cfg"), br#"{"Name":"linked"}"#).unwrap();
    let e = target.volume_config("linked").await.unwrap_err();
    assert!(matches!(e, Error::OutsideTarget { .. }), "{e}");
    assert!(
        target
            .import_raw("linked", &image, &opts, &NoProgress)
            .await
            .is_err()
    );
    assert_eq!(
        walk(&elsewhere),
        vec![elsewhere.join("volume.cfg")],
        "nothing was written through the link"
    );

    // A block directory linked elsewhere: collection refuses to delete through it.
    target
        .import_raw("vol", &image, &opts, &NoProgress)
        .await
        .unwrap();
    let blocks = root.join(layout::blocks_dir("vol").unwrap());
    let victim_dir = elsewhere.join("victim");
    std::fs::create_dir_all(victim_dir.join("ab")).unwrap();
    let victim = victim_dir
        .join("ab")
        .join(format!("ab{}.blk", "0".repeat(62)));
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim_dir, blocks.join("ab")).unwrap();
    let _ = target.collect_garbage("vol").await;
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    // A block file that is a link to a file elsewhere is never read.
    let backup = target.list_backups("vol").await.unwrap().backups[0].clone();
    let cfg = target.backup_config("vol", &backup).await.unwrap();
    let block = root.join(layout::block_path("vol", &cfg.blocks[0].checksum).unwrap());
    std::fs::remove_file(&block).unwrap();
    std::os::unix::fs::symlink(&victim, &block).unwrap();
    let out = work.path().join("out.img");
    let e = target
        .export_raw(
            "vol",
            &backup,
            &out,
            &ExportOptions {
                fsync: false,
                ..Default::default()
            },
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OutsideTarget { .. }), "{e}");
    assert!(!out.exists());
}
