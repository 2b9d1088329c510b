//! `vmbackup target` against an S3 target: the S3-compatible server that
//! scripts/test starts on loopback (VMBACKUP_TEST_S3_ENDPOINT). Without it
//! the test skips, unless VMBACKUP_TEST_S3_REQUIRED=1, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod target_common;

use std::io::{Read, Write};

use serde_json::Value;
use target_common::*;

const MIB: u64 = 1 << 20;

fn endpoint() -> Option<String> {
    match std::env::var("VMBACKUP_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(
                std::env::var("VMBACKUP_TEST_S3_REQUIRED").as_deref() != Ok("1"),
                "VMBACKUP_TEST_S3_REQUIRED=1 but VMBACKUP_TEST_S3_ENDPOINT is not set"
            );
            eprintln!(
                "skipping: VMBACKUP_TEST_S3_ENDPOINT is not set (scripts/test starts a server)"
            );
            None
        }
    }
}

/// Creates a bucket with a plain HTTP PUT (the test server does not check
/// signatures for this).
fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn s3_target_through_the_cli() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = format!("vmbackup-cli-{}", std::process::id());
    create_bucket(&endpoint, &bucket);
    let work = tempfile::tempdir().unwrap();

    // Credentials as the Kubernetes Secret a Longhorn backup target names.
    let secret = work.path().join("s3-secret.yaml");
    std::fs::write(
        &secret,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s3-secret\n  namespace: longhorn-system\ntype: Opaque\ndata:\n  AWS_ACCESS_KEY_ID: dGVzdGluZw==\n  AWS_SECRET_ACCESS_KEY: dGVzdGluZw==\nstringData:\n  AWS_ENDPOINTS: {endpoint}\n"
        ),
    )
    .unwrap();
    let url = format!("s3://{bucket}@us-east-1/cluster-a/");
    let creds = secret.to_str().unwrap();

    let disk = work.path().join("disk.img");
    make_image(
        &disk,
        8 * MIB + 512,
        &[
            (0, 1500 * 1024, Fill::Random(11)),
            (5 * MIB, MIB as usize, Fill::Byte(0xee)),
            (8 * MIB, 512, Fill::Random(12)),
        ],
    );
    let out = ok(vmbackup_target(&[
        "import",
        "--target",
        &url,
        "--credentials",
        creds,
        "--volume",
        "pvc-s3",
        "--from",
        disk.to_str().unwrap(),
    ]));
    let backup = last_line(&out);
    assert!(backup.starts_with("backup-"), "{out}");

    let listing: Value = serde_json::from_str(&ok(vmbackup_target(&[
        "ls",
        "--target",
        &url,
        "--credentials",
        creds,
        "--output",
        "json",
    ])))
    .unwrap();
    assert_eq!(listing["volumes"][0]["name"], "pvc-s3");
    assert_eq!(listing["volumes"][0]["backups"][0]["name"], backup.as_str());
    assert_eq!(listing["volumes"][0]["backups"][0]["complete"], true);

    let report = ok(vmbackup_target(&[
        "verify",
        "--target",
        &url,
        "--credentials",
        creds,
    ]));
    assert!(report.contains("volume pvc-s3: OK"), "{report}");

    // The same target through environment variables and --endpoint.
    let dest = work.path().join("restored.img");
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("vmbackup");
    let o = cmd
        .env("VMBACKUP_LOCK_SETTLE", LOCK_SETTLE)
        .env("VMBACKUP_CACHE_DIR", cache_dir())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_ENDPOINTS")
        .args([
            "target",
            "export",
            "--target",
            &url,
            "--endpoint",
            &endpoint,
            "--volume",
            "pvc-s3",
            "--backup",
            &backup,
            "--to",
            dest.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    ok(o);
    assert_eq!(sha256_file(&dest), sha256_file(&disk));

    // A wrong bucket is a clear error naming what was asked for.
    let err = fails(vmbackup_target(&[
        "show",
        "--target",
        &format!("s3://no-such-bucket-{}@us-east-1/", std::process::id()),
        "--credentials",
        creds,
        "--volume",
        "pvc-s3",
        "--backup",
        &backup,
    ]));
    assert!(
        err.contains("no-such-bucket") && err.contains("does not exist"),
        "{err}"
    );
}
