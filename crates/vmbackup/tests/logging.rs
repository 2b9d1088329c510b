//! Log lines go to stderr as plain text when stderr is not a terminal, so
//! they read cleanly in files, pipes and CI logs.

use assert_cmd::Command;

#[test]
fn warnings_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let image = dir.path().join("disk.raw");
    std::fs::write(&image, vec![7u8; 8192]).unwrap();
    // A fingerprint cache "directory" that is a file: the import warns that
    // it cannot use it, and goes on hashing every block.
    let not_a_dir = dir.path().join("cache");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();

    let out = Command::cargo_bin("vmbackup")
        .unwrap()
        .args(["target", "import", "--volume", "vol", "--target"])
        .arg(&target)
        .arg("--from")
        .arg(&image)
        .arg("--cache-dir")
        .arg(&not_a_dir)
        .env("VMBACKUP_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "import failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fingerprint cache unusable"),
        "expected the import to warn about the cache, stderr was: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "stderr is a pipe, yet it holds terminal escape codes: {stderr:?}"
    );
}
