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
        disks: vec![Disk::mib("disk-0", 8), Disk::mib("disk-1", 4)],
        user_data: Some("#cloud-config\npassword: demo\n".into()),
    })
    .unwrap();
    c.run_until_settled().unwrap();
    assert!(c.vm_running(ns, name), "VM {ns}/{name} did not start");
    let claims = c.vm_claims(ns, name).unwrap();
    c.write_disk(
        ns,
        &claims["disk-0"],
        0,
        &pattern(&format!("{name}/boot"), 3 << 20),
    )
    .unwrap();
    c.write_disk(ns, &claims["disk-0"], 6 << 20, b"the end of the root disk")
        .unwrap();
    c.write_disk(
        ns,
        &claims["disk-1"],
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
