//! `vmbackup repair --apply` on a cluster where a VMBackup's snapshot has
//! the legacy handle `bs://<PVC name>/<backup>`: the exact requests sent,
//! against a scripted API server that answers as Kubernetes does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::cluster::{self, LHB, PV, VB, VMB, collection, object_path};
use support::fake::status;
use support::scripted::{Exchange, read_cluster, serve};
use support::{repair_plan, summary};
use vmbackup_engine::testing;
use vmbackup_engine::{Action, Kind, Object, TargetFacts, View};
use vmbackup_kube::{
    ApplyOptions, Executor, LoadOptions, NoProgress, Outcome, StepError, Summary, apply, load,
};

fn new_vb() -> String {
    format!("{VB}-snap-revise")
}

fn vsc_path(name: &str) -> String {
    object_path(Kind::VolumeSnapshotContent, None, name)
}

fn vs_path(name: &str) -> String {
    object_path(Kind::VolumeSnapshot, Some("default"), name)
}

fn vmb_path() -> String {
    object_path(Kind::VirtualMachineBackup, Some("default"), VMB)
}

/// What the API server holds before the repair.
fn before() -> View {
    View::complete(
        cluster::objects()
            .into_iter()
            .map(|(_, v)| Object::from_value(v).unwrap()),
    )
}

/// The new content, exactly as it must be sent: the handle names the
/// Longhorn volume (the Backup's `status.volumeName`), never the PVC.
fn new_content_body() -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": format!("{}-vsc", new_vb())},
        "spec": {"deletionPolicy": "Delete", "driver": "driver.longhorn.io",
            "source": {"snapshotHandle": format!("bak://{PV}/{LHB}")},
            "volumeSnapshotClassName": "longhorn",
            "volumeSnapshotRef": {"name": new_vb(), "namespace": "default"}}})
}

fn new_snapshot_body() -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": new_vb(), "namespace": "default",
            "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "blockOwnerDeletion": true,
                "controller": true, "kind": "VirtualMachineBackup", "name": VMB, "uid": "vmb-uid"}]},
        "spec": {"source": {"volumeSnapshotContentName": format!("{}-vsc", new_vb())},
            "volumeSnapshotClassName": "longhorn"}})
}

/// `body` as the server returns it after a create.
fn created(mut body: Value, uid: &str, version: &str) -> Value {
    body["metadata"]["uid"] = json!(uid);
    body["metadata"]["resourceVersion"] = json!(version);
    body
}

/// The plan's merge patch of the VMBackup, as sent: pinned to the uid and
/// resourceVersion read.
fn vmbackup_patch_body(steps: &[vmbackup_engine::Step]) -> Value {
    let Action::Patch { patch, .. } = &steps[2].action else {
        panic!("step 2 is not the VMBackup patch: {:?}", steps[2]);
    };
    let mut body = patch.to_value();
    body["metadata"]["resourceVersion"] = json!("20");
    body["metadata"]["uid"] = json!("vmb-uid");
    body
}

/// The requests that carry out the repair plan, with the server's answers.
fn repair_writes(steps: &[vmbackup_engine::Step]) -> Vec<Exchange> {
    let vmb_body = vmbackup_patch_body(steps);
    let mut vmb_after = cluster::vmbackup();
    vmbackup_engine::merge_patch::apply(&mut vmb_after, &vmb_body);
    vmb_after["metadata"]["resourceVersion"] = json!("33");
    let mut old_vsc_after = cluster::content();
    old_vsc_after["spec"]["deletionPolicy"] = json!("Retain");
    old_vsc_after["metadata"]["resourceVersion"] = json!("34");
    vec![
        Exchange::new("POST", collection(Kind::VolumeSnapshotContent), "")
            .body(new_content_body())
            .reply(201, created(new_content_body(), "new-vsc-uid", "31")),
        Exchange::new(
            "POST",
            "/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots",
            "",
        )
        .body(new_snapshot_body())
        .reply(201, created(new_snapshot_body(), "new-vs-uid", "32")),
        Exchange::new("PATCH", vmb_path(), "")
            .body(vmb_body)
            .reply(200, vmb_after),
        Exchange::new("PATCH", vsc_path(&format!("{VB}-vsc")), "")
            .body(
                json!({"metadata": {"resourceVersion": "22", "uid": "vsc-uid"},
                "spec": {"deletionPolicy": "Retain"}}),
            )
            .reply(200, old_vsc_after.clone()),
        Exchange::new("DELETE", vs_path(VB), "")
            .body(json!({"preconditions": {"uid": "vs-uid"}}))
            .reply(200, cluster::snapshot()),
        Exchange::new("DELETE", vsc_path(&format!("{VB}-vsc")), "")
            .body(json!({"preconditions": {"uid": "vsc-uid"}}))
            .reply(200, old_vsc_after),
    ]
}

/// The cluster after the repair, as the engine's model of the API server
/// applies the plan.
fn after(steps: &[vmbackup_engine::Step]) -> Vec<(Kind, Value)> {
    let facts = TargetFacts::not_read(cluster::NFS);
    let (view, _, error) = testing::apply(&before(), &facts, steps);
    assert_eq!(error, None);
    view.objects()
        .into_iter()
        .map(|o| (o.kind(), o.to_value()))
        .collect()
}

#[tokio::test]
async fn repair_apply_reads_the_cluster_then_sends_exactly_the_repair_and_stops_when_settled() {
    let steps = repair_plan(&before());
    assert_eq!(
        summary(&steps),
        [
            format!("create VolumeSnapshotContent {}-vsc", new_vb()),
            format!("create VolumeSnapshot {}", new_vb()),
            format!("patch VirtualMachineBackup {VMB}"),
            format!("patch VolumeSnapshotContent {VB}-vsc"),
            format!("delete VolumeSnapshot {VB}"),
            format!("delete VolumeSnapshotContent {VB}-vsc"),
        ]
    );
    // The relink is in the patch: the volume backup is renamed, its
    // Longhorn backup kept.
    let body = vmbackup_patch_body(&steps);
    assert_eq!(body["status"]["volumeBackups"][0]["name"], json!(new_vb()));
    assert_eq!(
        body["status"]["volumeBackups"][0]["longhornBackupName"],
        json!(LHB)
    );

    let mut script = read_cluster(&cluster::objects(), &[]);
    script.extend(repair_writes(&steps));
    script.extend(read_cluster(&after(&steps), &[]));
    let (client, server) = serve(script);

    let loaded = load(&client, &LoadOptions::default(), &NoProgress)
        .await
        .unwrap();
    let first = repair_plan(&loaded.view);
    assert_eq!(
        first, steps,
        "the plan from the live read is the one expected"
    );
    let done = apply(
        &client,
        first,
        repair_plan,
        &ApplyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    drop(client);
    server.await.unwrap();
    assert_eq!(
        done.to_string(),
        "created 2, patched 2, deleted 2, skipped 0 (already present 0, already gone 0)"
    );
    assert_eq!(done.rounds, 1);
}

#[tokio::test]
async fn a_conflict_stops_the_run_at_that_step_and_asks_for_a_new_plan() {
    let steps = repair_plan(&before());
    let mut writes = repair_writes(&steps);
    writes.truncate(3);
    writes[2] = writes[2].clone().reply(
        409,
        status(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again"),
    );
    let (client, server) = serve(writes);
    let mut done = Summary::default();
    let err = Executor::new(&client)
        .run(&steps, &mut done)
        .await
        .unwrap_err();
    drop(client);
    server.await.unwrap();
    assert!(err.needs_replan(), "{err}");
    assert_eq!(err.index(), 2);
    assert!(
        matches!(&err, StepError::Conflict { target, .. } if target.name == VMB),
        "{err}"
    );
    assert_eq!(done.created, 2);
    assert_eq!(done.patched, 0);
}

#[tokio::test]
async fn a_create_that_finds_the_object_reads_it_and_carries_on() {
    let steps = repair_plan(&before());
    let mut found_same = created(new_content_body(), "new-vsc-uid", "31");
    found_same["status"] = json!({"readyToUse": true});
    found_same["spec"]["sourceVolumeMode"] = json!("Block");
    let mut found_other = created(new_snapshot_body(), "new-vs-uid", "32");
    found_other["spec"]["volumeSnapshotClassName"] = json!("longhorn-snapshot");
    let exists = |what: &str| status(409, "AlreadyExists", &format!("{what} already exists"));
    let script = vec![
        Exchange::new("POST", collection(Kind::VolumeSnapshotContent), "")
            .body(new_content_body())
            .reply(409, exists("volumesnapshotcontent")),
        Exchange::new("GET", vsc_path(&format!("{}-vsc", new_vb())), "").reply(200, found_same),
        Exchange::new(
            "POST",
            "/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots",
            "",
        )
        .body(new_snapshot_body())
        .reply(409, exists("volumesnapshot")),
        Exchange::new("GET", vs_path(&new_vb()), "").reply(200, found_other),
    ];
    let (client, server) = serve(script);
    let mut done = Summary::default();
    let executor = Executor::new(&client);
    executor.run(&steps[..2], &mut done).await.unwrap();
    drop(executor);
    drop(client);
    server.await.unwrap();
    assert_eq!(done.created, 0);
    assert_eq!(done.already_present, 2);
    assert_eq!(
        done.differing,
        [format!(
            "VolumeSnapshot default/{}: spec.volumeSnapshotClassName",
            new_vb()
        )]
    );
}

#[tokio::test]
async fn a_create_whose_name_is_held_by_an_object_being_deleted_stops() {
    let steps = repair_plan(&before());
    let mut terminating = created(new_content_body(), "old-uid", "30");
    terminating["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
    let script = vec![
        Exchange::new("POST", collection(Kind::VolumeSnapshotContent), "")
            .reply(409, status(409, "AlreadyExists", "already exists")),
        Exchange::new("GET", vsc_path(&format!("{}-vsc", new_vb())), "").reply(200, terminating),
    ];
    let (client, server) = serve(script);
    let err = Executor::new(&client)
        .run(&steps, &mut Summary::default())
        .await
        .unwrap_err();
    drop(client);
    server.await.unwrap();
    assert!(
        matches!(err, StepError::Terminating { index: 0, .. }),
        "{err}"
    );
    assert!(!err.needs_replan());
    assert!(err.to_string().contains("still being deleted"), "{err}");
}

#[tokio::test]
async fn deletes_of_objects_already_gone_are_done_and_of_replaced_ones_are_refused() {
    let steps = repair_plan(&before());
    let script = vec![
        Exchange::new("DELETE", vs_path(VB), "")
            .body(json!({"preconditions": {"uid": "vs-uid"}}))
            .reply(404, status(404, "NotFound", "not found")),
        Exchange::new("DELETE", vsc_path(&format!("{VB}-vsc")), "")
            .body(json!({"preconditions": {"uid": "vsc-uid"}}))
            .reply(
                409,
                status(
                    409,
                    "Conflict",
                    "Precondition failed: UID in precondition: vsc-uid, UID in object meta: other",
                ),
            ),
    ];
    let (client, server) = serve(script);
    let mut done = Summary::default();
    let err = Executor::new(&client)
        .run(&steps[4..], &mut done)
        .await
        .unwrap_err();
    drop(client);
    server.await.unwrap();
    assert_eq!(done.already_gone, 1);
    assert_eq!(done.deleted, 0);
    assert!(err.needs_replan(), "{err}");
    assert!(err.to_string().contains("UID in precondition"), "{err}");
}

#[tokio::test]
async fn a_patch_refused_because_the_object_was_replaced_is_a_conflict() {
    let steps = repair_plan(&before());
    let mut replaced = cluster::content();
    replaced["metadata"]["uid"] = json!("someone-elses-uid");
    let script = vec![
        Exchange::new("PATCH", vsc_path(&format!("{VB}-vsc")), "").reply(
            422,
            status(
                422,
                "Invalid",
                "metadata.uid: Invalid value: field is immutable",
            ),
        ),
        Exchange::new("GET", vsc_path(&format!("{VB}-vsc")), "").reply(200, replaced),
    ];
    let (client, server) = serve(script);
    let err = Executor::new(&client)
        .run(&steps[3..4], &mut Summary::default())
        .await
        .unwrap_err();
    drop(client);
    server.await.unwrap();
    assert!(
        matches!(&err, StepError::Conflict { message, .. } if message.contains("someone-elses-uid")),
        "{err}"
    );
}

#[tokio::test]
async fn a_plan_that_writes_target_files_without_a_target_changes_nothing() {
    let mut steps = repair_plan(&before());
    steps.push(vmbackup_engine::Step {
        action: Action::WriteTargetFile {
            path: format!("harvester/vmbackups/default/{VMB}.cfg"),
            contents: "{}".into(),
        },
        reason: "metadata".into(),
        reconciler: vmbackup_engine::Reconciler::Backup,
    });
    let (client, server) = serve(Vec::new());
    let err = Executor::new(&client)
        .run(&steps, &mut Summary::default())
        .await
        .unwrap_err();
    drop(client);
    server.await.unwrap();
    assert!(matches!(err, StepError::NoTarget { index: 6, .. }), "{err}");
}

#[tokio::test]
async fn create_or_get_reports_what_it_did() {
    let object = Object::from_value(new_content_body()).unwrap();
    let script = vec![
        Exchange::new("POST", collection(Kind::VolumeSnapshotContent), "")
            .body(new_content_body())
            .reply(201, created(new_content_body(), "u", "1")),
    ];
    let (client, server) = serve(script);
    let outcome = Executor::new(&client).create_or_get(&object).await.unwrap();
    drop(client);
    server.await.unwrap();
    assert_eq!(outcome, Outcome::Created);
}
