//! VolumeSnapshotContents are cluster-scoped while VMBackups are not: two
//! namespaces may hold VMBackups of the same name for PVCs of the same
//! name, and so volume backups of the same name. Each must still get a
//! content of its own, bound to its own VolumeSnapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::*;
use vmbackup_engine::{Action, Kind, Object, Options, View, plan};

const VB: &str = "daily-volume-disk";

fn in_namespace(o: Object, ns: &str) -> Object {
    let mut v = o.to_value();
    v["metadata"]["namespace"] = json!(ns);
    if let Some(vbs) = v["status"]["volumeBackups"].as_array_mut() {
        for vb in vbs {
            vb["persistentVolumeClaim"]["metadata"]["namespace"] = json!(ns);
        }
    }
    v["status"]["source"]["metadata"]["namespace"] = json!(ns);
    obj(v)
}

/// Two ready VMBackups `daily`, in `default` and `other`, known only by
/// their Longhorn backups (as after a rediscovery or a lost cluster).
fn cluster() -> View {
    View::complete(vec![
        setting_nfs(Some(0)),
        lh_target(true),
        storage_class("longhorn"),
        namespace("default"),
        namespace("other"),
        backup_snapshot_class(),
        lh_backup("backup-a", "pvc-a"),
        lh_backup("backup-b", "pvc-b"),
        backup_volume("pvc-a"),
        backup_volume("pvc-b"),
        ready_vmbackup(
            "daily",
            vec![vb("daily", "disk", "pvc-a", Some("backup-a"), true)],
        ),
        in_namespace(
            ready_vmbackup(
                "daily",
                vec![vb("daily", "disk", "pvc-b", Some("backup-b"), true)],
            ),
            "other",
        ),
    ])
}

#[test]
fn same_named_volume_backups_in_two_namespaces_get_a_content_each() {
    let target = listing(&[("pvc-a", "backup-a"), ("pvc-b", "backup-b")]);
    let options = Options::default();
    let first = plan(&cluster(), &target, now(), &options);
    let contents: Vec<serde_json::Value> = first
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Create { object } if object.kind() == Kind::VolumeSnapshotContent => {
                Some(object.to_value())
            }
            _ => None,
        })
        .collect();
    assert_eq!(contents.len(), 2, "{:#?}", summary(&first));
    assert_ne!(
        contents[0]["metadata"]["name"],
        contents[1]["metadata"]["name"]
    );

    let mut view = cluster();
    let mut facts = target;
    for _ in 0..6 {
        let (p, v, t) = plan_and_apply(&view, &facts, &options);
        view = v;
        facts = t;
        if p.steps.is_empty() {
            break;
        }
    }
    assert!(
        plan(&view, &facts, now(), &options).steps.is_empty(),
        "the plans converge"
    );
    for (ns, lhb, volume) in [
        ("default", "backup-a", "pvc-a"),
        ("other", "backup-b", "pvc-b"),
    ] {
        let vs = view
            .snapshot(ns, VB)
            .expect("a VolumeSnapshot in each namespace");
        let content = view.content_of_snapshot(vs).expect("bound to a content");
        let r = &content.spec.volume_snapshot_ref;
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref()),
            (Some(ns), Some(VB)),
            "{ns}: its content is its own"
        );
        assert_eq!(
            content.spec.source.snapshot_handle.as_deref(),
            Some(format!("bak://{volume}/{lhb}").as_str())
        );
    }
}

#[test]
fn repairing_same_named_legacy_backups_in_two_namespaces_gives_each_its_own_content() {
    let legacy = |ns: &str, content_name: &str, lhb: &str| {
        let mut c = content(content_name, &format!("bs://disk/{lhb}"), "Delete", VB).to_value();
        c["spec"]["volumeSnapshotRef"]["namespace"] = json!(ns);
        let mut vs = owned_snapshot("daily", VB, content_name).to_value();
        vs["metadata"]["namespace"] = json!(ns);
        vec![obj(c), obj(vs)]
    };
    let mut objects = cluster().objects();
    objects.extend(legacy("default", "snapcontent-a", "backup-a"));
    objects.extend(legacy("other", "snapcontent-b", "backup-b"));
    let mut view = View::complete(objects);
    let mut facts = listing(&[("pvc-a", "backup-a"), ("pvc-b", "backup-b")]);
    let options = Options {
        repair: vmbackup_engine::RepairScope::All,
        ..Options::default()
    };
    for _ in 0..8 {
        let (p, v, t) = plan_and_apply(&view, &facts, &options);
        view = v;
        facts = t;
        if p.steps.is_empty() {
            break;
        }
    }
    assert!(plan(&view, &facts, now(), &options).steps.is_empty());
    for (ns, lhb, volume) in [
        ("default", "backup-a", "pvc-a"),
        ("other", "backup-b", "pvc-b"),
    ] {
        let vmb = view.vmbackup(ns, "daily").unwrap();
        let vb_name = vmb.volume_backups()[0].name.clone().unwrap();
        assert_ne!(vb_name, VB, "{ns}: relinked");
        let vs = view.snapshot(ns, &vb_name).expect("the new VolumeSnapshot");
        let content = view.content_of_snapshot(vs).expect("bound");
        let r = &content.spec.volume_snapshot_ref;
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref()),
            (Some(ns), Some(vb_name.as_str()))
        );
        assert_eq!(
            content.spec.source.snapshot_handle.as_deref(),
            Some(format!("bak://{volume}/{lhb}").as_str())
        );
    }
}
