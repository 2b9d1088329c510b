//! An operator works on a cluster reached with `--kubeconfig`/`--context`
//! (here a fake API server on a local port, holding a VM backup whose
//! content has the legacy handle `bs://<PVC>/<backup>`): `doctor` finds the
//! handle, `repair` shows the plan and changes nothing, `repair --apply`
//! repairs it and says what it did, and running it again has nothing left
//! to do. A cluster that cannot be reached is an error naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;
use serde_json::json;
use tempfile::TempDir;
use vmbackup_engine::{Kind, Object};
use vmbackup_kube::testing::FakeApi;

/// The legacy cluster on a fake API server, and a kubeconfig reaching it
/// through the context `lab`.
fn legacy_api() -> (FakeApi, TempDir, PathBuf) {
    api_with(legacy_cluster())
}

/// `objects` on a fake API server (without Longhorn's Engine CRD), and a
/// kubeconfig reaching it through the context `lab`.
fn api_with(objects: Vec<serde_json::Value>) -> (FakeApi, TempDir, PathBuf) {
    let api = FakeApi::serving_all_but(&[Kind::LonghornEngine]);
    for (i, mut object) in objects.into_iter().enumerate() {
        // As an API server gives them: every object has a uid and version.
        let meta = &mut object["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("uid-{i}"));
        }
        if meta.get("resourceVersion").is_none() {
            meta["resourceVersion"] = json!(format!("{}", 10 + i));
        }
        let kind = Object::from_value(object.clone()).unwrap().kind();
        api.insert(kind, object);
    }
    let addr = api.serve_http().unwrap();
    let (dir, config) = kubeconfig(&format!("http://{addr}"));
    (api, dir, config)
}

fn kubeconfig(server: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: fake\n  cluster: {{server: '{server}'}}\n\
             users:\n- name: ops\n  user: {{token: t0k3n}}\n\
             contexts:\n- name: lab\n  context: {{cluster: fake, user: ops}}\n\
             - name: other\n  context: {{cluster: fake, user: ops}}\n\
             current-context: other\n"
        ),
    )
    .unwrap();
    (dir, path)
}

fn vmbackup(config: &Path, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--kubeconfig", config.to_str().unwrap(), "--context", "lab"]);
    run(all, None)
}

fn writes(api: &FakeApi) -> Vec<String> {
    api.log()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| r.line())
        .collect()
}

#[test]
fn doctor_reads_the_cluster_and_finds_the_legacy_handle() {
    let (api, _dir, config) = legacy_api();
    let r = vmbackup(&config, &["doctor", "--output", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = r.json();
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["kind"], "VolumeSnapshotContent");
    assert!(
        report.to_string().contains("cluster (context lab)"),
        "{report:#}"
    );
    // The missing CRD is said, not taken for an empty cluster.
    assert!(
        report
            .to_string()
            .contains("Engine (longhorn.io/v1beta2) is not served"),
        "{report:#}"
    );
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}

#[test]
fn repair_shows_the_plan_and_changes_nothing() {
    let (api, _dir, config) = legacy_api();
    let r = vmbackup(&config, &["repair"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("bak://{PV}/{LHB}")),
        "{}",
        r.stdout
    );
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}

#[test]
fn repair_apply_repairs_the_cluster_and_a_second_run_has_nothing_to_do() {
    let (api, _dir, config) = legacy_api();
    let r = vmbackup(&config, &["repair", "--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("applied: created 2, patched 2, deleted 2, skipped 0"),
        "{}",
        r.stdout
    );
    let new_vb = format!("{}-snap-revise", vb_name());
    let vsc = api
        .get(Kind::VolumeSnapshotContent, None, &format!("{new_vb}-vsc"))
        .expect("new content");
    assert_eq!(
        vsc["spec"]["source"]["snapshotHandle"],
        json!(format!("bak://{PV}/{LHB}"))
    );
    assert!(
        api.get(Kind::VolumeSnapshot, Some("default"), &vb_name())
            .is_none()
    );
    let vmb = api
        .get(Kind::VirtualMachineBackup, Some("default"), VMB)
        .unwrap();
    assert_eq!(vmb["status"]["volumeBackups"][0]["name"], json!(new_vb));
    assert!(
        api.get(Kind::LonghornBackup, Some("longhorn-system"), LHB)
            .is_some()
    );

    api.clear_log();
    let again = vmbackup(&config, &["repair", "--apply"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to change"),
        "{}",
        again.stdout
    );
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}

#[test]
fn an_unreachable_cluster_is_an_error_naming_it() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, config) = kubeconfig(&format!("http://127.0.0.1:{port}"));
    let r = vmbackup(&config, &["doctor"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cluster (context lab)"), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach the API server"),
        "{}",
        r.stderr
    );
}

#[test]
fn restore_creates_the_restore_once_after_its_preflight() {
    let (api, _dir, config) = api_with(healthy_cluster());
    let args = ["restore", VMB, "-n", "default", "--new-vm", "vm1-copy"];
    let r = vmbackup(&config, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("the VirtualMachineRestore was created"),
        "{}",
        r.stdout
    );
    let restores = "/apis/harvesterhci.io/v1beta1/namespaces/default/virtualmachinerestores";
    assert_eq!(writes(&api), [format!("POST {restores}")]);
    let created = api
        .get(
            Kind::VirtualMachineRestore,
            Some("default"),
            "restore-vm1-b1-vm1-copy",
        )
        .expect("the restore");
    assert_eq!(created["spec"]["virtualMachineBackupName"], json!(VMB));
    assert_eq!(created["spec"]["target"]["name"], json!("vm1-copy"));
    assert_eq!(created["spec"]["newVM"], json!(true));

    // Asked again, the preflight sees the name taken and creates nothing.
    api.clear_log();
    let again = vmbackup(&config, &args);
    assert_eq!(again.code, 2, "{}\n{}", again.stdout, again.stderr);
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}

#[test]
fn restore_from_a_legacy_handle_is_refused_before_anything_is_created() {
    let (api, _dir, config) = legacy_api();
    let r = vmbackup(&config, &["restore", VMB, "--new-vm", "vm1-copy"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("legacy-handle"), "{}", r.stdout);
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}
