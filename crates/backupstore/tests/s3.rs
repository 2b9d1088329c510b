//! The whole story against a real S3-compatible server (moto's server, as
//! started by the test script). Without `VMBACKUP_TEST_S3_ENDPOINT` the test
//! skips, unless `VMBACKUP_TEST_S3_REQUIRED=1`, in which case it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vmbackup_backupstore::{
    Compression, Credentials, ExportOptions, GcOutcome, ImportOptions, NoProgress, Target,
    TargetOptions, VerifyOptions, VmBackupMetadata,
};

fn endpoint() -> Option<String> {
    match std::env::var("VMBACKUP_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            if std::env::var("VMBACKUP_TEST_S3_REQUIRED").as_deref() == Ok("1") {
                panic!("VMBACKUP_TEST_S3_REQUIRED=1 but VMBACKUP_TEST_S3_ENDPOINT is not set");
            }
            eprintln!(
                "skipping the S3 test: VMBACKUP_TEST_S3_ENDPOINT is not set (scripts/test starts a server)"
            );
            None
        }
    }
}

/// Creates a bucket with a plain HTTP PUT (the test server does not check
/// signatures for this).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "bucket creation failed: {response}"
    );
}

#[tokio::test]
async fn s3_target_end_to_end() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = format!("vmbackup-test-{}", std::process::id());
    create_bucket(&endpoint, &bucket).await;

    // Credentials as a Longhorn BackupTarget secret carries them.
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s3-secret\n  namespace: longhorn-system\nstringData:\n  AWS_ENDPOINTS: {endpoint}\n  VIRTUAL_HOSTED_STYLE: \"false\"\ndata:\n  AWS_ACCESS_KEY_ID: dGVzdGluZw==\n  AWS_SECRET_ACCESS_KEY: dGVzdGluZw==\n"
    );
    let credentials = Credentials::from_secret_str(&secret, "s3-secret.yaml").unwrap();
    let url = format!("s3://{bucket}@us-east-1/cluster-a");
    let options = TargetOptions {
        credentials,
        ..Default::default()
    };
    let target = Target::open(&url, &options)
        .await
        .unwrap()
        .with_lock_settle(Duration::from_millis(1));

    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    let bs = 64u64 << 10;
    make_image(
        &image,
        30 * bs + 4321,
        &[
            (0, (5 * bs) as usize, Fill::Random(1)),
            (12 * bs, bs as usize, Fill::Zeros),
            (20 * bs + 9, 4000, Fill::Byte(9)),
            (30 * bs, 4321, Fill::Random(2)),
        ],
    );
    let opts = ImportOptions {
        compression: Compression::Lz4,
        block_size: bs,
        ..Default::default()
    };
    let first = target
        .import_raw("pvc-s3-test", &image, &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.blocks, 7);
    patch_image(&image, 2 * bs, &random_bytes(3, 100));
    let second = target
        .import_raw("pvc-s3-test", &image, &opts, &NoProgress)
        .await
        .unwrap();
    assert!(second.incremental);
    assert_eq!(second.blocks_uploaded, 1);

    // Keys land under the URL's path, below backupstore/.
    assert!(
        target
            .object_key("backupstore/volumes")
            .starts_with("cluster-a/backupstore/")
    );
    let vols = target.list_volumes().await.unwrap();
    assert_eq!(vols.volumes, vec!["pvc-s3-test".to_string()]);
    let backups = target.list_backups("pvc-s3-test").await.unwrap();
    assert_eq!(backups.backups.len(), 2);

    let out = work.path().join("out.img");
    target
        .export_raw(
            "pvc-s3-test",
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

    let report = target
        .verify_volume("pvc-s3-test", None, &VerifyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.blocks_checked, 8);

    let meta: VmBackupMetadata = serde_json::from_value(serde_json::json!({
        "name": "vm-b1", "namespace": "default", "backupSpec": {"type": "backup"}
    }))
    .unwrap();
    target.write_vm_backup_metadata(&meta).await.unwrap();
    assert_eq!(
        target.list_vm_backup_metadata().await.unwrap().files.len(),
        1
    );

    let d = target
        .delete_backup("pvc-s3-test", &first.backup)
        .await
        .unwrap();
    assert_eq!(
        d.gc,
        GcOutcome::Collected {
            blocks_deleted: 1,
            blocks_kept: 7
        }
    );
    // Lock files are gone once released.
    let locks = target.object_key(&vmbackup_backupstore::layout::locks_dir("pvc-s3-test").unwrap());
    use futures::TryStreamExt;
    let left: Vec<_> = target
        .store()
        .list(Some(&object_store::path::Path::from(locks)))
        .try_collect()
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}
