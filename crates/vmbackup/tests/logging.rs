//! Log lines go to stderr as plain text when stderr is not a terminal, so
//! they read cleanly in files, pipes and CI logs.

use assert_cmd::Command;

#[test]
fn warnings_written_to_a_pipe_carry_no_colour_codes() {
    let target = tempfile::tempdir().unwrap();
    // A metadata folder whose name is not a namespace: listing warns about it.
    std::fs::create_dir_all(target.path().join("harvester/vmbackups/Not_A_Namespace")).unwrap();
    std::fs::create_dir_all(target.path().join("backupstore")).unwrap();

    let out = Command::cargo_bin("vmbackup")
        .unwrap()
        .args(["target", "ls", "--target"])
        .arg(target.path())
        .env("VMBACKUP_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Not_A_Namespace") || stderr.contains("not a namespace"),
        "expected the listing to warn about the folder, stderr was: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "stderr is a pipe, yet it holds terminal escape codes: {stderr:?}"
    );
}
