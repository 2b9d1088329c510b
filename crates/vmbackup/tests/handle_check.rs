//! `vmbackup handle check`, end to end: an operator pastes snapshot handles
//! (or pipes them from kubectl) and learns which are sound backup handles,
//! which are legacy, and why the rest are malformed.

// The helpers below sit outside `#[test]` functions; a panic in them is a
// test failure like any other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};

fn vmbackup() -> assert_cmd::Command {
    cargo_bin_cmd!("vmbackup")
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

/// Run `handle check --output json` and return the array.
fn check_json(args: &[&str], stdin: Option<&str>) -> (i32, Vec<Value>) {
    let mut cmd = vmbackup();
    cmd.args(["handle", "check", "--output", "json"]).args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let output = cmd.output().unwrap();
    let code = output.status.code().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (code, rows)
}

#[test]
fn a_sound_backup_handle_exits_zero_and_shows_its_parts() {
    let assert = vmbackup()
        .args([
            "handle",
            "check",
            "bak://pvc-5bd3aeca-91da-4426-8a31-d10268cb195e/backup-3481549a473648cb",
        ])
        .assert()
        .success();
    let out = stdout_of(&assert);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["CLASS", "VOLUME", "BACKUP", "HANDLE"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "backup",
            "pvc-5bd3aeca-91da-4426-8a31-d10268cb195e",
            "backup-3481549a473648cb",
            "bak://pvc-5bd3aeca-91da-4426-8a31-d10268cb195e/backup-3481549a473648cb"
        ]
    );
    assert_eq!(stderr_of(&assert), "");
}

#[test]
fn a_legacy_harvester_handle_exits_one_and_names_volume_and_backup() {
    let assert = vmbackup()
        .args(["handle", "check", "bs://os-vol/backup-be842e7288aa4318"])
        .assert()
        .code(1);
    let out = stdout_of(&assert);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [
            "legacy-bs",
            "os-vol",
            "backup-be842e7288aa4318",
            "bs://os-vol/backup-be842e7288aa4318"
        ]
    );
    assert!(out.contains("Longhorn volume name"), "{out}");
}

#[test]
fn json_has_one_object_per_handle_with_nulls_where_absent() {
    let (code, rows) = check_json(
        &[
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "bs://test-vol/backup-625159fb469e492e",
            "snap://pvc-f04ace4a-6353-42d6-9b1a-6beeb59b51d0/snapshot-4739abe2-5034-4f49-9525-3bad7d2fdb3a",
            "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=raw&volume-name=pvc-0123abcd-test",
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4/extra",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(rows.len(), 5);
    for row in &rows {
        for key in ["handle", "class", "volume", "backup", "reason"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
    }
    assert_eq!(
        rows[0],
        json!({
            "handle": "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "class": "backup",
            "volume": "pvc-0123abcd-test",
            "backup": "backup-854f6ced7b4942d4",
            "snapshot": null,
            "backingImage": null,
            "reason": null,
            "detail": null,
            "longhorn": {
                "type": "bak",
                "volume": "pvc-0123abcd-test",
                "id": "backup-854f6ced7b4942d4",
                "action": "restore-backup"
            }
        })
    );
    assert_eq!(rows[1]["class"], "legacy-bs");
    assert_eq!(rows[1]["volume"], "test-vol");
    assert_eq!(rows[1]["backup"], "backup-625159fb469e492e");
    assert_eq!(rows[1]["reason"], Value::Null);
    assert_eq!(rows[2]["class"], "snapshot");
    assert_eq!(
        rows[2]["volume"],
        "pvc-f04ace4a-6353-42d6-9b1a-6beeb59b51d0"
    );
    assert_eq!(rows[2]["backup"], Value::Null);
    assert_eq!(
        rows[2]["snapshot"],
        "snapshot-4739abe2-5034-4f49-9525-3bad7d2fdb3a"
    );
    assert_eq!(rows[3]["class"], "backing-image");
    assert_eq!(rows[3]["backingImage"], "bi-1");
    assert_eq!(rows[3]["volume"], Value::Null);
    assert_eq!(rows[4]["class"], "malformed");
    assert_eq!(rows[4]["reason"], "extra-slash");
    assert_eq!(rows[4]["volume"], Value::Null);
    assert_eq!(rows[4]["backup"], Value::Null);
    assert!(rows[4]["detail"].as_str().unwrap().contains("extra `/`"));
    // What Longhorn itself would read: it drops the extra part.
    assert_eq!(rows[4]["longhorn"]["id"], "backup-854f6ced7b4942d4");
}

/// (handle, class, reason, Longhorn's type, volume and id)
type EdgeCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

/// Every handle Longhorn's driver was checked against, through the CLI:
/// our class, our reason, and Longhorn's own reading.
#[test]
fn every_longhorn_edge_case_is_classified_with_its_reason() {
    let cases: &[EdgeCase] = &[
        (
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "backup",
            None,
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
        ),
        (
            "bs://pvc-0123abcd-test/backup-854f6ced7b4942d4",
            "legacy-bs",
            None,
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
        ),
        (
            "snap://pvc-0123abcd-test/snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11",
            "snapshot",
            None,
            "snap",
            "pvc-0123abcd-test",
            "snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11",
        ),
        (
            "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4/extra",
            "malformed",
            Some("extra-slash"),
            "bak",
            "pvc-0123abcd-test",
            "backup-854f6ced7b4942d4",
        ),
        (
            "bak://pvc-0123abcd-test/",
            "malformed",
            Some("empty-part"),
            "bak",
            "pvc-0123abcd-test",
            "",
        ),
        (
            "bak:///backup-1",
            "malformed",
            Some("empty-part"),
            "bak",
            "",
            "backup-1",
        ),
        (
            "bak://pvc-0123abcd-test",
            "malformed",
            Some("missing-slash"),
            "",
            "",
            "",
        ),
        (
            "bak://vol//backup-1",
            "malformed",
            Some("extra-slash"),
            "bak",
            "vol",
            "",
        ),
        (
            "bak://a://b/c",
            "malformed",
            Some("extra-scheme-separator"),
            "",
            "",
            "",
        ),
        (
            "BAK://vol/backup-1",
            "malformed",
            Some("unknown-scheme"),
            "BAK",
            "vol",
            "backup-1",
        ),
        ("backup-1", "malformed", Some("missing-scheme"), "", "", ""),
        (
            "://vol/backup-1",
            "malformed",
            Some("empty-part"),
            "",
            "vol",
            "backup-1",
        ),
        (
            "bk://vol/backup-1",
            "malformed",
            Some("unknown-scheme"),
            "bk",
            "vol",
            "backup-1",
        ),
        ("", "malformed", Some("empty"), "", "", ""),
        (
            "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=raw&volume-name=pvc-0123abcd-test",
            "backing-image",
            None,
            "bi",
            "",
            "",
        ),
        (
            "bi://anything",
            "malformed",
            Some("missing-parameter"),
            "bi",
            "",
            "",
        ),
    ];
    let handles: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let (code, rows) = check_json(&handles, None);
    assert_eq!(code, 1);
    assert_eq!(rows.len(), cases.len());
    for (row, &(handle, class, reason, lh_type, lh_volume, lh_id)) in rows.iter().zip(cases) {
        assert_eq!(row["handle"], handle);
        assert_eq!(row["class"], class, "{handle}");
        assert_eq!(row["reason"], json!(reason), "{handle}");
        assert_eq!(row["longhorn"]["type"], lh_type, "{handle}");
        assert_eq!(row["longhorn"]["volume"], lh_volume, "{handle}");
        assert_eq!(row["longhorn"]["id"], lh_id, "{handle}");
        if reason.is_some() {
            assert!(row["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
}

#[test]
fn handles_piped_from_kubectl_are_read_from_stdin() {
    // As printed by
    // kubectl get vsc -o jsonpath='{range .items[*]}{.status.snapshotHandle}{"\n"}{end}'
    // (CRLF and blank lines tolerated).
    let piped = "bak://pvc-1111aaaa-test/backup-1111111111111111\r\n\
                 \n\
                 bak://pvc-2222bbbb-test/backup-2222222222222222\n";
    let (code, rows) = check_json(&["-"], Some(piped));
    assert_eq!(code, 0);
    let classes: Vec<&str> = rows.iter().map(|r| r["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["backup", "backup"]);
    assert_eq!(rows[1]["volume"], "pvc-2222bbbb-test");

    // Mixed with arguments, in order.
    let (code, rows) = check_json(
        &["snap://vol/snap-1", "-", "bak://vol/backup-3"],
        Some("bs://os-vol/backup-2\n"),
    );
    assert_eq!(code, 1);
    let handles: Vec<&str> = rows.iter().map(|r| r["handle"].as_str().unwrap()).collect();
    assert_eq!(
        handles,
        [
            "snap://vol/snap-1",
            "bs://os-vol/backup-2",
            "bak://vol/backup-3"
        ]
    );
}

#[test]
fn usage_errors_exit_two() {
    let assert = vmbackup().args(["handle", "check"]).assert().code(2);
    assert!(stderr_of(&assert).contains("<HANDLE>"));
    vmbackup()
        .args(["handle", "check", "--output", "xml", "bak://v1/b1"])
        .assert()
        .code(2);
    vmbackup()
        .args(["handle", "check", "--frobnicate", "bak://v1/b1"])
        .assert()
        .code(2);
    let assert = vmbackup()
        .args(["handle", "check", "-", "-"])
        .write_stdin("bak://v1/backup-1\n")
        .assert()
        .code(2);
    assert!(stderr_of(&assert).contains("only once"));
    let assert = vmbackup()
        .args(["handle", "check", "-"])
        .write_stdin("\n  \n")
        .assert()
        .code(2);
    assert!(stderr_of(&assert).contains("no handles on standard input"));
}

#[test]
fn malformed_handles_are_explained_in_the_table() {
    let assert = vmbackup()
        .args([
            "handle",
            "check",
            "bak://vol/Backup_1",
            "backup:backup/snap-1",
        ])
        .assert()
        .code(1);
    let out = stdout_of(&assert);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["CLASS", "VOLUME", "BACKUP", "REASON", "HANDLE"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "malformed",
            "-",
            "-",
            "bad-characters",
            "bak://vol/Backup_1"
        ]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        [
            "malformed",
            "-",
            "-",
            "missing-scheme",
            "backup:backup/snap-1"
        ]
    );
    assert!(out.contains("Why malformed:"), "{out}");
    assert!(
        out.contains("the backup name \"Backup_1\" has 'B' at index 0"),
        "{out}"
    );
}

#[test]
fn handles_that_look_like_flags_are_taken_after_double_dash() {
    let (code, rows) = check_json(&["--", "-bak://vol/backup-1"], None);
    assert_eq!(code, 1);
    assert_eq!(rows[0]["reason"], "unknown-scheme");
}

#[cfg(unix)]
#[test]
fn arguments_that_are_not_utf8_are_malformed_not_a_crash() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let output = vmbackup()
        .args(["handle", "check", "--output", "json"])
        .arg(OsStr::from_bytes(b"bak://vol/backup-\xff"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows[0]["reason"], "not-utf8");
    assert_eq!(rows[0]["handle"], "bak://vol/backup-\u{fffd}");
}

#[test]
fn yaml_output_carries_the_same_fields() {
    let assert = vmbackup()
        .args([
            "handle",
            "check",
            "--output",
            "yaml",
            "bs://os-vol/backup-1",
        ])
        .assert()
        .code(1);
    let rows: Vec<BTreeMap<String, serde_yaml_ng::Value>> =
        serde_yaml_ng::from_str(&stdout_of(&assert)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["class"], "legacy-bs");
    assert_eq!(rows[0]["volume"], "os-vol");
    assert_eq!(rows[0]["reason"], serde_yaml_ng::Value::Null);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // Thousands of handles into a reader that stops early.
    let many: String = (0..20_000)
        .map(|i| format!("bak://pvc-{i:08}-test/backup-{i:016x}\n"))
        .collect();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("vmbackup"))
        .args(["handle", "check", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(many.as_bytes()).unwrap();
    }
    // Close our end of stdout without reading.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Where the real objects from public bug reports live.
fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("VMBACKUP_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real"),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "fixtures directory {} is missing (set VMBACKUP_FIXTURES)",
        dir.display()
    );
    dir
}

/// Every snapshot handle quoted in a fixture: `snapshotHandle:` fields of
/// VolumeSnapshotContents, `SnapshotHandle:` lines of describe output, and
/// `snapshot_id:"..."` in CSI logs.
fn handles_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        for key in ["snapshotHandle:", "SnapshotHandle:"] {
            if let Some(value) = trimmed.strip_prefix(key) {
                let value = value.trim().trim_matches('"');
                if !value.is_empty() {
                    found.push(value.to_owned());
                }
            }
        }
        let mut rest = line;
        while let Some(at) = rest.find("snapshot_id:\\\"") {
            rest = &rest[at + "snapshot_id:\\\"".len()..];
            if let Some(end) = rest.find("\\\"") {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

/// The handles in the real objects get the class their published diagnosis
/// gives: `bak://` backups are sound, `bs://` ones are legacy (whatever the
/// volume part looks like), VM snapshot handles are snapshots, and a
/// non-Longhorn driver's handle is not mistaken for a Longhorn one.
#[test]
fn handles_in_real_objects_get_their_published_class() {
    let expected: BTreeMap<&str, (&str, Option<&str>)> = [
        (
            "bs://os-vol/backup-be842e7288aa4318",
            ("legacy-bs", Some("os-vol")),
        ),
        (
            "bs://test-vol/backup-625159fb469e492e",
            ("legacy-bs", Some("test-vol")),
        ),
        (
            "bak://pvc-5bd3aeca-91da-4426-8a31-d10268cb195e/backup-3481549a473648cb",
            ("backup", Some("pvc-5bd3aeca-91da-4426-8a31-d10268cb195e")),
        ),
        (
            "snap://pvc-f04ace4a-6353-42d6-9b1a-6beeb59b51d0/snapshot-4739abe2-5034-4f49-9525-3bad7d2fdb3a",
            ("snapshot", Some("pvc-f04ace4a-6353-42d6-9b1a-6beeb59b51d0")),
        ),
        (
            "backup:backup/snapshot-5cfe5d1e-48ae-4383-aed2-fbf378697c49",
            ("malformed", None),
        ),
    ]
    .into_iter()
    .collect();

    let dir = fixtures_dir();
    let mut handles: Vec<String> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().is_some_and(|e| e == "md") || !path.is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        handles.extend(handles_in(&text));
    }
    for known in expected.keys() {
        assert!(
            handles.iter().any(|h| h == known),
            "{known} not found in {}",
            dir.display()
        );
    }

    let input: String = handles.iter().map(|h| format!("{h}\n")).collect();
    let (code, rows) = check_json(&["-"], Some(&input));
    assert_eq!(code, 1);
    assert_eq!(rows.len(), handles.len());
    for row in &rows {
        let handle = row["handle"].as_str().unwrap();
        let class = row["class"].as_str().unwrap();
        assert!(
            [
                "backup",
                "snapshot",
                "backing-image",
                "legacy-bs",
                "malformed"
            ]
            .contains(&class),
            "{row}"
        );
        if let Some((want_class, want_volume)) = expected.get(handle) {
            assert_eq!(class, *want_class, "{handle}");
            assert_eq!(row["volume"], json!(want_volume), "{handle}");
        }
        if class == "legacy-bs" || class == "backup" {
            assert!(row["backup"].as_str().is_some(), "{row}");
        }
    }
}
