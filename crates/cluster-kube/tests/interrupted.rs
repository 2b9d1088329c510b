//! A repair cut short anywhere is finished by running it again, with no
//! object created twice; someone else changing an object mid-run makes the
//! run read and plan again instead of failing. Against a stateful fake API
//! server that keeps objects, versions and preconditions as Kubernetes does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::cluster::{self, LHB, PV, VB, VMB, object_path};
use support::fake::{FakeApi, Recorded};
use support::repair_plan;
use vmbackup_engine::Kind;
use vmbackup_kube::{
    ApplyOptions, Error, LoadOptions, NoProgress, StepError, apply, load, load_and_apply,
};

fn cluster() -> FakeApi {
    let api = FakeApi::serving_all_but(&[Kind::LonghornEngine]);
    for (kind, object) in cluster::objects() {
        api.insert(kind, object);
    }
    api
}

fn new_vb() -> String {
    format!("{VB}-snap-revise")
}

/// The repaired state: the new pair exists once with the right handle, the
/// VMBackup points at it, the old pair is gone, the Longhorn backup kept.
fn assert_repaired(api: &FakeApi) {
    let vsc = api
        .get(
            Kind::VolumeSnapshotContent,
            None,
            &format!("{}-vsc", new_vb()),
        )
        .expect("new content");
    assert_eq!(
        vsc["spec"]["source"]["snapshotHandle"],
        json!(format!("bak://{PV}/{LHB}"))
    );
    assert!(
        api.get(Kind::VolumeSnapshot, Some("default"), &new_vb())
            .is_some()
    );
    let vmb = api
        .get(Kind::VirtualMachineBackup, Some("default"), VMB)
        .unwrap();
    assert_eq!(vmb["status"]["volumeBackups"][0]["name"], json!(new_vb()));
    assert!(api.get(Kind::VolumeSnapshot, Some("default"), VB).is_none());
    assert!(
        api.get(Kind::VolumeSnapshotContent, None, &format!("{VB}-vsc"))
            .is_none()
    );
    assert!(
        api.get(Kind::LonghornBackup, Some("longhorn-system"), LHB)
            .is_some()
    );
}

/// Successful creates per object path.
fn creates(log: &[Recorded]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in log.iter().filter(|r| r.method == "POST" && r.status == 201) {
        let name = r.body.as_ref().unwrap()["metadata"]["name"]
            .as_str()
            .unwrap();
        *out.entry(format!("{}/{name}", r.path)).or_insert(0) += 1;
    }
    out
}

async fn repair(api: &FakeApi) -> Result<vmbackup_kube::Summary, vmbackup_kube::Failed> {
    load_and_apply(
        &api.client(),
        repair_plan,
        &ApplyOptions::default(),
        &NoProgress,
    )
    .await
}

#[tokio::test]
async fn a_repair_cut_off_after_any_step_is_finished_by_the_next_run_without_duplicates() {
    let reference = cluster();
    repair(&reference).await.unwrap();
    assert_repaired(&reference);
    let repaired = reference.paths();
    for cut in 0..6 {
        let api = cluster();
        api.fail_writes_from(cut);
        let first = repair(&api).await.unwrap_err();
        assert!(
            matches!(&first.error, Error::Step(StepError::Api { index, .. }) if *index == cut),
            "cut {cut}: {first}"
        );
        assert_eq!(
            first.summary.created + first.summary.patched + first.summary.deleted,
            cut
        );
        let first_run = api.log();
        api.heal();
        api.clear_log();

        let second = repair(&api).await.unwrap();
        let second_run = api.log();
        assert_repaired(&api);
        assert_eq!(api.paths(), repaired, "cut {cut}");
        // Every object is created once over both runs, and the second run
        // does not try to create what the first one made.
        let mut all = first_run.clone();
        all.extend(second_run.iter().cloned());
        assert!(
            creates(&all).values().all(|n| *n == 1),
            "cut {cut}: {:?}",
            creates(&all)
        );
        let made_first: Vec<String> = creates(&first_run).into_keys().collect();
        for r in second_run.iter().filter(|r| r.method == "POST") {
            let name = r.body.as_ref().unwrap()["metadata"]["name"]
                .as_str()
                .unwrap();
            assert!(
                !made_first.contains(&format!("{}/{name}", r.path)),
                "cut {cut}: {name} created again"
            );
        }
        assert_eq!(
            first.summary.created + second.created,
            2,
            "cut {cut}: {} then {second}",
            first.summary
        );
    }
}

#[tokio::test]
async fn a_second_run_of_the_same_plan_finds_what_the_first_created_and_carries_on() {
    let api = cluster();
    let client = api.client();
    let loaded = load(&client, &LoadOptions::default(), &NoProgress)
        .await
        .unwrap();
    let stale = repair_plan(&loaded.view);
    // The first run creates the new pair and relinks the VMBackup, then
    // the connection drops.
    api.fail_writes_from(3);
    let first = apply(
        &client,
        stale.clone(),
        repair_plan,
        &ApplyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert_eq!(first.summary.created, 2);
    assert_eq!(first.summary.patched, 1);
    api.heal();
    api.clear_log();

    // Run again from the very same plan: the creates find their objects,
    // the VMBackup patch pinned to the old version is refused, and the run
    // reads the cluster again and finishes.
    let second = apply(
        &client,
        stale,
        repair_plan,
        &ApplyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_repaired(&api);
    assert_eq!(second.created, 0);
    assert_eq!(second.already_present, 2);
    assert!(second.differing.is_empty(), "{:?}", second.differing);
    assert_eq!(second.replans, 1);
    assert_eq!(second.patched, 1);
    assert_eq!(second.deleted, 2);
    let log = api.log();
    let conflicts: Vec<String> = log
        .iter()
        .filter(|r| r.status == 409)
        .map(Recorded::line)
        .collect();
    assert_eq!(
        conflicts,
        [
            format!(
                "POST {}",
                support::cluster::collection(Kind::VolumeSnapshotContent)
            ),
            "POST /apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots".to_owned(),
            format!(
                "PATCH {}",
                object_path(Kind::VirtualMachineBackup, Some("default"), VMB)
            ),
        ]
    );
    assert!(creates(&log).is_empty(), "{:?}", creates(&log));
}

#[tokio::test]
async fn someone_else_changing_an_object_mid_run_makes_it_plan_again_not_fail() {
    let api = cluster();
    let vmb = object_path(Kind::VirtualMachineBackup, Some("default"), VMB);
    // Another controller updates the VMBackup just before our patch of it.
    api.touch_before_write(2, vmb.clone());
    let done = repair(&api).await.unwrap();
    assert_repaired(&api);
    assert_eq!(done.replans, 1);
    assert_eq!(done.rounds, 2);
    assert_eq!(done.created, 2);
    let patches: Vec<(u16, String)> = api
        .log()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == vmb)
        .map(|r| {
            let rv = r.body.as_ref().unwrap()["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned();
            (r.status, rv)
        })
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0], (409, "20".to_owned()));
    assert_eq!(patches[1].0, 200);
    assert_ne!(patches[1].1, "20");
    // The other controller's change is kept.
    let after = api
        .get(Kind::VirtualMachineBackup, Some("default"), VMB)
        .unwrap();
    assert_eq!(
        after["metadata"]["annotations"]["touched-by"],
        json!("someone-else")
    );
}

#[tokio::test]
async fn a_settled_cluster_gets_no_write_at_all() {
    let api = cluster();
    repair(&api).await.unwrap();
    api.clear_log();
    let again = repair(&api).await.unwrap();
    assert!(again.changed_nothing(), "{again}");
    assert_eq!(again.rounds, 0);
    assert!(api.log().iter().all(|r| !r.is_write()), "{:?}", api.log());
}
