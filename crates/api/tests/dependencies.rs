//! The object model pulls in no async runtime, HTTP client, Kubernetes
//! client or backup-store code: it is plain data that the pure engine and
//! every shell can share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn no_runtime_http_client_or_store_in_normal_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "vmbackup-api",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8(output.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"k8s-openapi"),
        "unexpected tree output: {tree}"
    );
    for forbidden in [
        "tokio",
        "hyper",
        "kube-client",
        "kube-runtime",
        "object_store",
        "reqwest",
        "mio",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "vmbackup-api depends on {forbidden}:\n{tree}"
        );
    }
}
