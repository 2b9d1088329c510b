//! A small world for the scenario tests: a backup target in a temp dir and
//! clusters that share it, plus the VM every story starts from.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use tempfile::TempDir;
use vmbackup_sim::scenario::pattern;
use vmbackup_sim::{Cluster, Disk, LonghornVersion, TargetServer, VmSpec};

pub struct World {
    pub dir: TempDir,
    pub target: Arc<TargetServer>,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = Arc::new(TargetServer::new(&dir.path().join("nfs-export")).unwrap());
        World { dir, target }
    }

    /// A cluster on the target's network, its backup target configured.
    pub fn cluster(&self, name: &str, version: LonghornVersion, refresh: i64) -> Cluster {
        let mut c = Cluster::new(
            name,
            version,
            &self.dir.path().join(name),
            Some(self.target.clone()),
        )
        .unwrap();
        c.configure_target(refresh).unwrap();
        c.run_until_settled().unwrap();
        c
    }
}

/// Creates VM `ns/name` with two disks holding known data and returns the
/// disks' SHA-256 by volume name.
pub fn vm_with_data(c: &mut Cluster, ns: &str, name: &str) -> BTreeMap<String, String> {
    c.create_namespace(ns).unwrap();
    c.create_vm(&VmSpec {
        namespace: ns.into(),
        name: name.into(),
        disks: vec![Disk::mib("disk-0", 4), Disk::mib("disk-1", 2)],
        user_data: Some("#cloud-config\npassword: demo\n".into()),
    })
    .unwrap();
    c.run_until_settled().unwrap();
    assert!(c.vm_running(ns, name), "VM {ns}/{name} did not start");
    let claims = c.vm_claims(ns, name).unwrap();
    // The root disk's first block is full and its second ends with a few
    // bytes; the data disk's only block is half written.
    let root = &claims["disk-0"];
    c.write_disk(ns, root, 0, &pattern(&format!("{name}/boot"), 2 << 20))
        .unwrap();
    c.write_disk(ns, root, (4 << 20) - 24, b"the end of the root disk")
        .unwrap();
    let data = &claims["disk-1"];
    c.write_disk(
        ns,
        data,
        1 << 20,
        &pattern(&format!("{name}/data"), 1 << 20),
    )
    .unwrap();
    c.vm_disk_sha256(ns, name).unwrap()
}

/// Takes a backup and runs until it is ready.
pub fn back_up(c: &mut Cluster, ns: &str, vm: &str, backup: &str) {
    c.back_up_vm(ns, vm, backup).unwrap();
    c.run_until_settled().unwrap();
    let vmb = c.vmbackup(ns, backup).expect("VMBackup exists");
    assert!(
        vmb.is_ready(),
        "backup {ns}/{backup} is not ready: {}\nfailures: {:#?}",
        serde_json::to_string_pretty(&vmb.status).unwrap(),
        c.controller().failures()
    );
}

/// Longhorn backup names of a VMBackup.
pub fn longhorn_backups(c: &Cluster, ns: &str, backup: &str) -> Vec<String> {
    c.vmbackup(ns, backup)
        .unwrap()
        .volume_backups()
        .iter()
        .filter_map(|vb| vb.longhorn_backup_name.clone())
        .collect()
}

/// The VMBackup, its VolumeSnapshots and their contents: what a cluster
/// loses when its control plane is rebuilt.
pub fn backup_objects(c: &Cluster, ns: &str, backup: &str) -> Vec<vmbackup_engine::ObjectRef> {
    use vmbackup_engine::{Kind, ObjectRef};
    let vmb = c.vmbackup(ns, backup).unwrap();
    let mut refs = vec![ObjectRef::namespaced(
        Kind::VirtualMachineBackup,
        ns,
        backup,
    )];
    for vb in vmb.volume_backups() {
        let name = vb.name.clone().unwrap();
        let vs = c
            .store()
            .get_as::<vmbackup_api::VolumeSnapshot>(ns, &name)
            .cloned();
        refs.push(ObjectRef::namespaced(Kind::VolumeSnapshot, ns, &name));
        if let Some(content) = vs.as_ref().and_then(|v| v.content_name()) {
            refs.push(ObjectRef::cluster(Kind::VolumeSnapshotContent, content));
        }
    }
    refs
}

/// Handles of the contents the VMBackup's snapshots are bound to.
pub fn handles(c: &Cluster, ns: &str, backup: &str) -> Vec<String> {
    let vmb = c.vmbackup(ns, backup).unwrap();
    vmb.volume_backups()
        .iter()
        .filter_map(|vb| {
            let vs = c
                .store()
                .get_as::<vmbackup_api::VolumeSnapshot>(ns, vb.name.as_deref()?)?;
            let content = c
                .store()
                .get_as::<vmbackup_api::VolumeSnapshotContent>("", vs.content_name()?)?;
            content.snapshot_handle().map(str::to_owned)
        })
        .collect()
}

/// Runs until settled and returns the restore once complete.
pub fn restored(c: &mut Cluster, ns: &str, restore: &str) {
    c.run_until_settled().unwrap();
    let vmr = c.vmrestore(ns, restore).expect("VMRestore exists");
    assert!(
        vmr.is_complete(),
        "restore {ns}/{restore} is not complete: {}\nfailures: {:#?}\nfindings: {:#?}",
        serde_json::to_string_pretty(&vmr.status).unwrap(),
        c.controller().failures(),
        c.controller().findings()
    );
}

impl World {
    /// A copy of this world (the target) and of `cluster`, to explore
    /// another future from the same state.
    pub fn fork(&self, cluster: &Cluster) -> (World, Cluster) {
        let dir = tempfile::tempdir().unwrap();
        let target = Arc::new(self.target.fork(&dir.path().join("nfs-export")).unwrap());
        let c = cluster
            .fork(&dir.path().join(cluster.name()), Some(target.clone()))
            .unwrap();
        (World { dir, target }, c)
    }
}

/// The Longhorn backups of a VMBackup as (volume, backup).
pub fn backup_ids(c: &Cluster, ns: &str, backup: &str) -> Vec<(String, String)> {
    c.vmbackup(ns, backup)
        .unwrap()
        .volume_backups()
        .iter()
        .map(|vb| {
            (
                vb.pv_name().unwrap().to_owned(),
                vb.longhorn_backup_name.clone().unwrap(),
            )
        })
        .collect()
}

/// What must hold once a cluster has converged: every Longhorn backup in
/// `kept` is still on the target and known to Longhorn, no backup has more
/// than one working content per namespace, and the VMBackup is ready.
pub fn assert_sound(
    world: &World,
    c: &Cluster,
    ns: &str,
    backup: &str,
    kept: &[(String, String)],
    context: &str,
) {
    let known = c.longhorn_backup_ids();
    for (volume, b) in kept {
        assert!(
            world.target.has_backup(volume, b).unwrap(),
            "{context}: backup {b} of {volume} left the target"
        );
        assert!(
            known.contains(&(volume.clone(), b.clone())),
            "{context}: Longhorn Backup {b} is gone"
        );
    }
    for ((b, namespace), contents) in c.working_contents() {
        assert!(
            contents.len() <= 1,
            "{context}: backup {b} has {} working contents for namespace {namespace}: {contents:?}",
            contents.len()
        );
    }
    let vmb = c.vmbackup(ns, backup).expect("VMBackup exists");
    assert!(
        vmb.is_ready(),
        "{context}: VMBackup not ready: {}",
        serde_json::to_string_pretty(&vmb.status).unwrap()
    );
}
