//! With no cluster at all, the backup target alone is enough: its VM backup
//! metadata names the Longhorn backups of each disk, and each disk exports
//! to a raw file equal to the source at backup time.

mod common;

use common::*;
use vmbackup_backupstore::{ExportOptions, NoProgress, Target, TargetOptions};
use vmbackup_sim::LonghornVersion;
use vmbackup_sim::scenario::file_sha256;

#[test]
fn every_disk_exports_from_the_target_directory_with_no_cluster() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-backup");
    drop(a);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = world.target.dir().to_string_lossy().into_owned();
    let target = rt
        .block_on(Target::open(&url, &TargetOptions::default()))
        .unwrap()
        .with_lock_settle(std::time::Duration::ZERO);
    let meta = rt
        .block_on(target.read_vm_backup_metadata("default", "vm1-backup"))
        .unwrap()
        .expect("metadata on the target");
    let out = world.dir.path().join("export");
    std::fs::create_dir_all(&out).unwrap();
    let mut exported = 0;
    for v in meta.volumes() {
        let dest = out.join(format!("{}.raw", v.vm_volume));
        rt.block_on(target.export_raw(
            v.longhorn_volume.as_deref().unwrap(),
            v.longhorn_backup.as_deref().unwrap(),
            &dest,
            &ExportOptions::default(),
            &NoProgress,
        ))
        .unwrap();
        assert_eq!(file_sha256(&dest).unwrap(), digests[&v.vm_volume]);
        exported += 1;
    }
    assert_eq!(exported, 2);
}
