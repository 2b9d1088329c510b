//! `vmbackup demo` runs the whole story on simulated clusters with no
//! network: seven steps, each reported with its name, whether it passed and
//! what was found; every restore reports the restored disks' sha256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use serde_json::Value;

const STEPS: usize = 7;

#[test]
fn the_json_report_has_one_passing_entry_per_step_and_the_exit_code_says_so() {
    let keep = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("vmbackup")
        .unwrap()
        .args(["demo", "--output", "json", "--keep"])
        .arg(keep.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), STEPS, "{report:#}");
    for step in steps {
        assert!(step["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(step["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(step["ok"], true, "{step:#}");
    }
    assert_eq!(report["ok"], true);
    assert!(output.status.success());

    // Every restore and the export compare sha256 with the source.
    let details: Vec<&str> = steps
        .iter()
        .map(|s| s["detail"].as_str().unwrap())
        .collect();
    for i in [2, 3, 5, 6] {
        assert!(
            details[i].contains("sha256 equals the source's at backup time"),
            "step {}: {}",
            i + 1,
            details[i]
        );
    }
    // The legacy backup's handles name a PVC, not a Longhorn volume.
    assert!(details[1].contains("bs://vm1-disk-0/"), "{}", details[1]);
    // What the demo made is kept where asked: the target with real backups,
    // and the exported disks.
    assert!(keep.path().join("nfs-export/backupstore/volumes").is_dir());
    assert!(keep.path().join("export/disk-0.raw").is_file());
}

#[test]
fn the_step_log_tells_the_story_and_refuses_a_used_directory() {
    let keep = tempfile::tempdir().unwrap();
    std::fs::write(keep.path().join("something"), b"x").unwrap();
    let refused = Command::cargo_bin("vmbackup")
        .unwrap()
        .args(["demo", "--keep"])
        .arg(keep.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not empty"));

    let output = Command::cargo_bin("vmbackup")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    let log = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{log}");
    for i in 1..=STEPS {
        assert!(log.contains(&format!("[{i}/{STEPS}]")), "{log}");
        assert!(log.contains(&format!("PASS {i}.")), "{log}");
    }
    assert!(log.contains("code = NotFound"), "{log}");
    assert!(log.contains("there is no backup volume"), "{log}");
    assert!(
        log.contains(&format!("{STEPS}/{STEPS} steps passed")),
        "{log}"
    );
}
