//! Planning at scale: 1,000 VMs with three disks each, backed up ten times
//! each: a View of 10,000 VMBackups, 30,000 VolumeSnapshots and 30,000
//! VolumeSnapshotContents (a third of them legacy `bs://<PVC name>/<backup>`
//! contents from older Harvester), 30,000 Longhorn Backups, the VMs, their
//! PVCs and BackupVolumes, and a listing of the target. Prints the time of
//! each plan and the peak resident memory (VmHWM).
//!
//! Run: `cargo bench -p vmbackup-engine --bench plan`

use std::time::Instant;

use chrono::{TimeZone, Utc};
use serde_json::json;
use vmbackup_engine::target::{TargetBackup, TargetListing};
use vmbackup_engine::{Object, Options, RepairScope, TargetFacts, TargetState, View, plan};

const VMS: usize = 1_000;
const BACKUPS_PER_VM: usize = 10;
const BACKUPS: usize = VMS * BACKUPS_PER_VM;
const VOLUMES: usize = 3;
const NFS: &str = "nfs://10.0.0.1:/export";

fn object(value: serde_json::Value) -> Object {
    match Object::from_value(value) {
        Ok(o) => o,
        Err(e) => panic!("benchmark object: {e}"),
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) this thread has used, in seconds: unlike the
/// wall-clock time it does not grow when other processes compete for the
/// CPU. Read from /proc (clock ticks, usually 10 ms).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The cluster, fed into a View builder object by object (as a shell
/// feeding it from its watch caches would), and the target's listing.
fn cluster() -> (View, TargetListing) {
    let mut builder = View::builder().all_listed();
    let mut add = |o: Object| {
        builder = std::mem::take(&mut builder).object(o);
    };
    for o in [
        object(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
            "metadata": {"name": "backup-target", "uid": "setting-uid", "resourceVersion": "1",
                "annotations": {"harvesterhci.io/hash": "x", "harvesterhci.io/lastRefreshTime": "2025-06-01T11:00:00Z"}},
            "value": json!({"type": "nfs", "endpoint": NFS}).to_string()}),
        ),
        object(
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupTarget",
            "metadata": {"name": "default", "namespace": "longhorn-system"},
            "spec": {"backupTargetURL": NFS, "pollInterval": "5m0s"}, "status": {"available": true}}),
        ),
        object(
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "longhorn"}, "provisioner": "driver.longhorn.io"}),
        ),
        object(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "longhorn"}, "driver": "driver.longhorn.io", "deletionPolicy": "Delete",
            "parameters": {"type": "bak"}}),
        ),
        object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})),
    ] {
        add(o);
    }
    let mut listing = TargetListing {
        complete: true,
        ..TargetListing::default()
    };
    for b in 0..BACKUPS {
        let m = b % VMS;
        let vm = format!("vm{m}");
        let vmb = format!("{vm}-backup-{}", b / VMS);
        let legacy = b % 3 == 0;
        let first = b < VMS;
        let mut vbs = Vec::with_capacity(VOLUMES);
        let mut volumes = Vec::with_capacity(VOLUMES);
        for v in 0..VOLUMES {
            let pvc = format!("{vm}-disk-{v}-{m:05x}");
            let pv = format!("pvc-{m:08x}-{v:04x}-4c0e-9d7e-1b2c3d4e5f60");
            let lhb = format!("backup-{b:012x}{v:04x}");
            let vb = format!("{vmb}-volume-{pvc}");
            volumes.push(
                json!({"name": format!("disk-{v}"), "persistentVolumeClaim": {"claimName": pvc}}),
            );
            vbs.push(json!({"name": vb, "volumeName": format!("disk-{v}"), "csiDriverName": "driver.longhorn.io",
                "persistentVolumeClaim": {"metadata": {"name": pvc, "namespace": "default"},
                    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                        "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"}},
                "longhornBackupName": lhb, "volumeSize": 10737418240i64, "readyToUse": true, "progress": 100,
                "creationTime": "2025-01-01T00:00:00Z"}));
            let vs_uid = format!("{b:08x}-{v:04x}-4000-8000-000000000000");
            let (content, handle, vs_source, content_source) = if legacy {
                let content = format!("{vb}-vsc");
                let handle = format!("bs://{pvc}/{lhb}");
                (
                    content.clone(),
                    handle.clone(),
                    json!({"volumeSnapshotContentName": content}),
                    json!({"snapshotHandle": handle}),
                )
            } else {
                (
                    format!("snapcontent-{vs_uid}"),
                    format!("bak://{pv}/{lhb}"),
                    json!({"persistentVolumeClaimName": pvc}),
                    json!({"volumeHandle": pv}),
                )
            };
            add(object(
                json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": vb, "namespace": "default", "uid": vs_uid, "resourceVersion": "3",
                    "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                        "name": vmb, "uid": format!("uid-{vmb}"), "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"source": vs_source, "volumeSnapshotClassName": "longhorn"},
                "status": {"boundVolumeSnapshotContentName": content, "readyToUse": true,
                    "creationTime": "2025-01-01T00:00:00Z", "restoreSize": "10Gi"}}),
            ));
            add(object(
                json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": content, "uid": format!("uid-{content}"), "resourceVersion": "4"},
                "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Delete", "volumeSnapshotClassName": "longhorn",
                    "source": content_source,
                    "volumeSnapshotRef": {"name": vb, "namespace": "default", "uid": vs_uid}},
                "status": {"snapshotHandle": handle, "readyToUse": true, "restoreSize": 10737418240i64}}),
            ));
            add(object(
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
                "metadata": {"name": lhb, "namespace": "longhorn-system", "uid": format!("uid-{lhb}"),
                    "labels": {"backup-volume": pv, "backup-target": "default"}},
                "spec": {"snapshotName": format!("snapshot-{vs_uid}")},
                "status": {"state": "Completed", "volumeName": pv, "backupTargetName": "default",
                    "snapshotName": format!("snapshot-{vs_uid}"), "progress": 100, "size": "1073741824"}}),
            ));
            if first {
                add(object(
                    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
                "metadata": {"name": format!("{pv}-0fbc591a"), "namespace": "longhorn-system",
                    "labels": {"backup-volume": pv, "backup-target": "default"}},
                "spec": {"volumeName": pv, "backupTargetName": "default"}}),
                ));
                add(object(
                    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": pvc, "namespace": "default", "uid": format!("uid-{pvc}")},
                "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                    "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"},
                "status": {"phase": "Bound"}}),
                ));
            }
            listing
                .volumes
                .entry(pv)
                .or_default()
                .backups
                .insert(lhb, TargetBackup { complete: true });
        }
        if first {
            add(object(
                json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": vm, "namespace": "default", "uid": format!("uid-{vm}")},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": volumes.clone()}}},
                "status": {"created": true, "ready": true, "printableStatus": "Running"}}),
            ));
        }
        let status = json!({"sourceUID": format!("uid-{vm}"), "readyToUse": true, "progress": 100,
            "creationTime": "2025-01-01T00:00:00Z", "backupTarget": {"endpoint": NFS},
            "csiDriverVolumeSnapshotClassNames": {"driver.longhorn.io": "longhorn"},
            "source": {"metadata": {"name": vm, "namespace": "default"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {
                    "domain": {"cpu": {"cores": 2}, "memory": {"guest": "4Gi"},
                        "devices": {"interfaces": [{"name": "default", "macAddress": "52:54:00:aa:bb:cc", "masquerade": {}}]}},
                    "networks": [{"name": "default", "pod": {}}],
                    "volumes": volumes}}}},
            "volumeBackups": vbs, "secretBackups": [],
            "conditions": [
                {"type": "InProgress", "status": "False", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "MetadataReady", "status": "True",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]});
        add(object(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": vmb, "namespace": "default", "uid": format!("uid-{vmb}"), "resourceVersion": "7",
                "finalizers": ["wrangler.cattle.io/harvester-vm-backup-controller"]},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm}, "type": "backup"},
            "status": status}),
        ));
    }
    (builder.build(), listing)
}

fn main() {
    let now = Utc
        .with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let started = Instant::now();
    let (view, listing) = cluster();
    let count = view.len();
    let built = started.elapsed();
    println!(
        "view: {count} objects ({BACKUPS} VMBackups, {} VolumeSnapshots, {} contents, a third legacy) built in {:.2} s; resident {:.1} MiB",
        view.snapshots().len(),
        view.contents().len(),
        built.as_secs_f64(),
        rss_mib().unwrap_or(0.0)
    );
    let listed = TargetFacts {
        url: NFS.to_owned(),
        state: TargetState::Listed(listing),
    };
    let not_read = TargetFacts::not_read(NFS);
    let runs: [(&str, &TargetFacts, Options); 3] = [
        ("diagnose (target not read)", &not_read, Options::default()),
        (
            "diagnose with a target listing",
            &listed,
            Options::default(),
        ),
        (
            "repair every legacy handle",
            &not_read,
            Options {
                repair: RepairScope::All,
                ..Options::default()
            },
        ),
    ];
    for (name, facts, options) in runs {
        let t = Instant::now();
        let cpu = cpu_seconds();
        let p = plan(&view, facts, now, &options);
        let took = t.elapsed();
        let cpu = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
        println!(
            "plan: {name}: {:.3} s (CPU {cpu:.2} s), {} steps, {} findings; peak RSS so far {:.1} MiB",
            took.as_secs_f64(),
            p.steps.len(),
            p.findings.len(),
            peak_rss_mib().unwrap_or(0.0)
        );
    }
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS (VmHWM): {mib:.1} MiB"),
        None => println!("peak RSS: /proc/self/status not readable"),
    }
}
