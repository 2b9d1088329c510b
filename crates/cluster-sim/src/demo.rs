//! The whole story of vmbackup on simulated clusters, step by step, with
//! real bytes: what `vmbackup demo` runs.
//!
//! 1. A VM with two disks holding known data is backed up.
//! 2. An old cluster (Longhorn 1.7, Harvester before 1.5) holds a backup
//!    with legacy `bs://<PVC name>/…` handles; Longhorn is upgraded to 1.8.
//! 3. A naive restore of it into another namespace fails with Longhorn's
//!    NotFound; vmbackup repairs the handles and the restore succeeds.
//! 4. A second cluster sharing the target rediscovers the backups and
//!    restores one.
//! 5. The target is disconnected and reconnected: backups go not ready,
//!    then ready.
//! 6. The clusters' VolumeSnapshotContents are lost; vmbackup rebinds the
//!    backups to their Longhorn backups and a restore works.
//! 7. A disk is exported from the target to a raw file with no cluster.
//!
//! Every restore checks that the restored disks' SHA-256 equals the
//! source's at backup time. Nothing is faked: each step's result is read
//! back from the simulated clusters, which run the real engine and write
//! real backups through the `backupstore` crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use vmbackup_backupstore::{ExportOptions, NoProgress, Target, TargetOptions};
use vmbackup_engine::{Code, Kind, ObjectRef, RepairScope};

use crate::cluster::Cluster;
use crate::error::SimError;
use crate::longhorn::LonghornVersion;
use crate::scenario::{Disk, VmSpec, file_sha256, pattern};
use crate::target::TargetServer;

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// What the step shows.
    pub name: String,
    /// Whether every check of the step passed.
    pub ok: bool,
    /// What was found, or why it failed.
    pub detail: String,
}

/// The outcome of the whole story.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per step, in order.
    pub steps: Vec<StepReport>,
    /// Wall-clock seconds the story took.
    pub seconds: f64,
}

impl Report {
    /// Whether every step passed.
    pub fn ok(&self) -> bool {
        self.steps.len() == STEPS.len() && self.steps.iter().all(|s| s.ok)
    }
}

/// The names of the steps, in order.
pub const STEPS: [&str; 7] = [
    "back up a VM with two disks holding known data",
    "a backup with legacy bs:// handles from before Longhorn 1.8",
    "restore the legacy backup into another namespace",
    "restore on a second cluster that shares the target",
    "disconnect and reconnect the backup target",
    "lose the VolumeSnapshotContents, rediscover and restore",
    "export a disk from the target with no cluster",
];

const NS: &str = "default";
const VM: &str = "vm1";
const BACKUP: &str = "vm1-backup";
const LEGACY: &str = "vm1-legacy";
const OTHER_NS: &str = "team-b";
const DR_NS: &str = "dr";

type Digests = BTreeMap<String, String>;

/// A failed check or step, with the reason.
struct Failed(String);

impl From<SimError> for Failed {
    fn from(e: SimError) -> Self {
        Failed(e.to_string())
    }
}

impl From<crate::target::TargetError> for Failed {
    fn from(e: crate::target::TargetError) -> Self {
        Failed(e.to_string())
    }
}

impl From<vmbackup_backupstore::Error> for Failed {
    fn from(e: vmbackup_backupstore::Error) -> Self {
        Failed(e.to_string())
    }
}

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(Failed(why())) }
}

fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}

fn digest_line(d: &Digests) -> String {
    d.iter()
        .map(|(disk, sha)| format!("{disk} {}…", short(sha)))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Story<'a> {
    dir: PathBuf,
    target: Arc<TargetServer>,
    a: Cluster,
    b: Option<Cluster>,
    say: &'a mut dyn FnMut(&str),
    at_backup: Digests,
    at_legacy: Digests,
}

/// Runs the story in `dir` (which must exist and should be empty), telling
/// what happens through `say`, one line at a time.
pub fn run(dir: &Path, say: &mut dyn FnMut(&str)) -> Report {
    let started = Instant::now();
    let mut steps = Vec::new();
    let story = Story::new(dir, say);
    match story {
        Err(Failed(why)) => {
            for name in STEPS {
                steps.push(StepReport {
                    name: name.to_owned(),
                    ok: false,
                    detail: format!("not run: the simulated clusters could not be set up: {why}"),
                });
            }
        }
        Ok(mut story) => {
            let mut failed = false;
            for (i, name) in STEPS.iter().enumerate() {
                if failed {
                    steps.push(StepReport {
                        name: (*name).to_owned(),
                        ok: false,
                        detail: "not run: an earlier step failed".into(),
                    });
                    continue;
                }
                (story.say)("");
                (story.say)(&format!("[{}/{}] {name}", i + 1, STEPS.len()));
                let result = match i {
                    0 => story.backup(),
                    1 => story.legacy(),
                    2 => story.repair_and_restore(),
                    3 => story.second_cluster(),
                    4 => story.disconnect(),
                    5 => story.lost_contents(),
                    _ => story.export(),
                };
                let (ok, detail) = match result {
                    Ok(detail) => (true, detail),
                    Err(Failed(why)) => {
                        failed = true;
                        (false, why)
                    }
                };
                (story.say)(&format!(
                    "  {} {detail}",
                    if ok { "ok:" } else { "FAILED:" }
                ));
                steps.push(StepReport {
                    name: (*name).to_owned(),
                    ok,
                    detail,
                });
            }
        }
    }
    Report {
        steps,
        seconds: started.elapsed().as_secs_f64(),
    }
}

impl<'a> Story<'a> {
    fn new(dir: &Path, say: &'a mut dyn FnMut(&str)) -> Result<Self, Failed> {
        let target = Arc::new(TargetServer::new(&dir.join("nfs-export"))?);
        let a = Cluster::new(
            "cluster-a",
            LonghornVersion::V1_7,
            &dir.join("cluster-a"),
            Some(target.clone()),
        )?;
        say(&format!(
            "backup target {} (an NFS export kept in {})",
            target.url(),
            target.dir().display()
        ));
        Ok(Story {
            dir: dir.to_owned(),
            target,
            a,
            b: None,
            say,
            at_backup: Digests::new(),
            at_legacy: Digests::new(),
        })
    }

    fn line(&mut self, text: impl AsRef<str>) {
        (self.say)(&format!("  {}", text.as_ref()));
    }

    fn ready_backup(c: &mut Cluster, ns: &str, name: &str) -> Result<(), Failed> {
        c.back_up_vm(ns, VM, name)?;
        c.run_until_settled()?;
        let vmb = c
            .vmbackup(ns, name)
            .ok_or_else(|| Failed(format!("VMBackup {ns}/{name} vanished")))?;
        check(vmb.is_ready(), || {
            format!(
                "VMBackup {ns}/{name} is not ready: {}",
                vmb.status
                    .as_ref()
                    .and_then(|s| s.error.as_ref())
                    .and_then(|e| e.message.clone())
                    .unwrap_or_else(|| "still in progress".into())
            )
        })
    }

    /// Restores `backup` with a VMRestore and checks the bytes.
    fn restore(
        c: &mut Cluster,
        ns: &str,
        name: &str,
        backup: &str,
        expected: &Digests,
    ) -> Result<String, Failed> {
        c.restore_vm(ns, name, NS, backup, VM, true)?;
        c.run_until_settled()?;
        let vmr = c
            .vmrestore(ns, name)
            .ok_or_else(|| Failed(format!("VMRestore {ns}/{name} vanished")))?;
        check(vmr.is_complete(), || {
            let why = vmr
                .condition("Ready")
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            format!("restore {ns}/{name} of {backup} did not complete: {why}")
        })?;
        check(c.vm_running(ns, VM), || {
            format!("restored VM {ns}/{VM} is not running")
        })?;
        let got = c.vm_disk_sha256(ns, VM)?;
        check(&got == expected, || {
            format!(
                "restored disks differ from the backup: got {}, expected {}",
                digest_line(&got),
                digest_line(expected)
            )
        })?;
        Ok(format!(
            "VM {ns}/{VM} restored from {backup} on {} is running; sha256 equals the source's at backup time: {}",
            c.name(),
            got.iter()
                .map(|(disk, sha)| format!("{disk} {sha}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn write_data(&mut self, tag: &str) -> Result<Digests, Failed> {
        let claims = self.a.vm_claims(NS, VM)?;
        for (i, (disk, claim)) in claims.iter().enumerate() {
            let offset = (i as u64 + 1) << 20;
            let data = pattern(&format!("{tag}/{disk}"), 3 << 20);
            self.a.write_disk(NS, claim, offset, &data)?;
        }
        Ok(self.a.vm_disk_sha256(NS, VM)?)
    }

    /// Step 1.
    fn backup(&mut self) -> Result<String, Failed> {
        let release = self.a.longhorn().version().release();
        self.a.configure_target(0)?;
        self.a.run_until_settled()?;
        self.line(format!(
            "cluster-a: Longhorn {release}, Harvester settings, vmbackup controller; backup target configured"
        ));
        self.a.create_vm(&VmSpec {
            namespace: NS.into(),
            name: VM.into(),
            disks: vec![Disk::mib("disk-0", 32), Disk::mib("disk-1", 16)],
            user_data: Some("#cloud-config\npassword: demo\n".into()),
        })?;
        self.a.run_until_settled()?;
        check(self.a.vm_running(NS, VM), || {
            format!("VM {NS}/{VM} did not start")
        })?;
        self.at_backup = self.write_data("first")?;
        self.line(format!(
            "VM {NS}/{VM} running with disk-0 (32 MiB) and disk-1 (16 MiB) holding known data: {}",
            digest_line(&self.at_backup)
        ));
        Self::ready_backup(&mut self.a, NS, BACKUP)?;
        let vmb = self
            .a
            .vmbackup(NS, BACKUP)
            .cloned()
            .ok_or_else(|| Failed("VMBackup vanished".into()))?;
        let mut parts = Vec::new();
        for vb in vmb.volume_backups() {
            let (Some(volume), Some(backup)) = (vb.pv_name(), vb.longhorn_backup_name.as_deref())
            else {
                return Err(Failed(format!(
                    "volume {} has no Longhorn backup",
                    vb.volume_name
                )));
            };
            check(
                self.target.has_backup(volume, backup).unwrap_or(false),
                || format!("backup {backup} of {volume} is not on the target"),
            )?;
            parts.push(format!("{} → {backup}", vb.volume_name));
        }
        check(parts.len() == 2, || {
            format!("expected 2 volume backups, got {}", parts.len())
        })?;
        let meta = self
            .target
            .run(self.target.store().read_vm_backup_metadata(NS, BACKUP))
            .map_err(|e| Failed(e.to_string()))?;
        check(meta.is_some(), || {
            "the backup's metadata file is not on the target".into()
        })?;
        Ok(format!(
            "VMBackup {NS}/{BACKUP} is ready; Longhorn wrote {} to {} with metadata harvester/vmbackups/{NS}/{BACKUP}.cfg",
            parts.join(", "),
            self.target.url()
        ))
    }

    /// Step 2.
    fn legacy(&mut self) -> Result<String, Failed> {
        self.at_legacy = self.write_data("second")?;
        self.line(format!(
            "new data written to {VM}: {}",
            digest_line(&self.at_legacy)
        ));
        Self::ready_backup(&mut self.a, NS, LEGACY)?;
        // The cluster is rebuilt (its backup objects are lost) and the old
        // Harvester rediscovers the backup from the target, the old way.
        let vmb = self
            .a
            .vmbackup(NS, LEGACY)
            .cloned()
            .ok_or_else(|| Failed("VMBackup vanished".into()))?;
        let mut lost = vec![ObjectRef::namespaced(
            Kind::VirtualMachineBackup,
            NS,
            LEGACY,
        )];
        for vb in vmb.volume_backups() {
            let Some(name) = vb.name.as_deref() else {
                continue;
            };
            if let Some(content) = self
                .a
                .store()
                .get_as::<vmbackup_api::VolumeSnapshot>(NS, name)
                .and_then(|vs| vs.content_name().map(str::to_owned))
            {
                lost.push(ObjectRef::cluster(Kind::VolumeSnapshotContent, content));
            }
            lost.push(ObjectRef::namespaced(Kind::VolumeSnapshot, NS, name));
        }
        self.a.lose(&lost);
        self.a.legacy_rediscover(NS, LEGACY)?;
        self.a.run_until_settled()?;
        let handles = self.handles(NS, LEGACY);
        check(handles.iter().all(|h| h.starts_with("bs://vm1-")), || {
            format!("expected legacy handles, found {handles:?}")
        })?;
        self.line(format!(
            "Longhorn v1.7.3, Harvester < 1.5 rediscovered {NS}/{LEGACY} with handles {}",
            handles.join(", ")
        ));
        self.a.set_longhorn_version(LonghornVersion::V1_8)?;
        self.a.run_until_settled()?;
        let legacy_findings = self
            .a
            .controller()
            .findings()
            .iter()
            .filter(|f| f.code == Code::LegacyHandle)
            .count();
        check(legacy_findings == handles.len(), || {
            format!(
                "vmbackup reports {legacy_findings} legacy handles, expected {}",
                handles.len()
            )
        })?;
        self.line(format!(
            "Longhorn upgraded to {}; vmbackup reports {legacy_findings} legacy-handle findings",
            LonghornVersion::V1_8.release()
        ));
        Ok(format!(
            "{NS}/{LEGACY} holds legacy handles ({}) and the cluster now runs Longhorn {}",
            handles.join(", "),
            LonghornVersion::V1_8.release()
        ))
    }

    fn content_names(&self, ns: &str, backup: &str) -> Vec<String> {
        let Some(vmb) = self.a.vmbackup(ns, backup) else {
            return Vec::new();
        };
        vmb.volume_backups()
            .iter()
            .filter_map(|vb| {
                let vs = self
                    .a
                    .store()
                    .get_as::<vmbackup_api::VolumeSnapshot>(ns, vb.name.as_deref()?)?;
                vs.content_name().map(str::to_owned)
            })
            .collect()
    }

    fn handles(&self, ns: &str, backup: &str) -> Vec<String> {
        let Some(vmb) = self.a.vmbackup(ns, backup) else {
            return Vec::new();
        };
        vmb.volume_backups()
            .iter()
            .filter_map(|vb| {
                let vs = self
                    .a
                    .store()
                    .get_as::<vmbackup_api::VolumeSnapshot>(ns, vb.name.as_deref()?)?;
                let c = self
                    .a
                    .store()
                    .get_as::<vmbackup_api::VolumeSnapshotContent>("", vs.content_name()?)?;
                c.snapshot_handle().map(str::to_owned)
            })
            .collect()
    }

    /// Step 3.
    fn repair_and_restore(&mut self) -> Result<String, Failed> {
        self.a.create_namespace(OTHER_NS)?;
        let pvcs = self.a.legacy_restore(NS, LEGACY, OTHER_NS, "naive")?;
        self.a.run_until_settled()?;
        let mut errors = Vec::new();
        for pvc in &pvcs {
            check(self.a.volume_file(OTHER_NS, pvc).is_err(), || {
                format!("naive restore PVC {OTHER_NS}/{pvc} was provisioned on Longhorn 1.8")
            })?;
            let r = ObjectRef::namespaced(Kind::PersistentVolumeClaim, OTHER_NS, pvc);
            let failure = self
                .a
                .events()
                .about(&r)
                .find(|e| e.reason == "ProvisioningFailed")
                .map(|e| e.message.clone())
                .ok_or_else(|| Failed(format!("no ProvisioningFailed event on {r}")))?;
            check(failure.contains("code = NotFound"), || {
                format!("unexpected provisioning error: {failure}")
            })?;
            errors.push(failure);
        }
        self.line("naive restore (what Harvester < 1.5 did): its PVCs stay Pending:");
        for e in &errors {
            self.line(format!("  ProvisioningFailed: {e}"));
        }
        if let Some(log) = self
            .a
            .events()
            .logs()
            .iter()
            .rev()
            .find(|l| l.message.starts_with("cannot find backup volume"))
            .map(ToString::to_string)
        {
            self.line(format!("  {log}"));
        }
        self.a.legacy_restore_cleanup(OTHER_NS, "naive")?;
        self.a.run_until_settled()?;

        let kept = self.a.longhorn_backup_ids();
        let old_contents = self.content_names(NS, LEGACY);
        let before = self.a.controller().executed().len();
        self.a.controller_mut().options_mut().repair =
            RepairScope::Only(BTreeSet::from([(NS.to_owned(), LEGACY.to_owned())]));
        self.a.run_until_settled()?;
        *self.a.controller_mut().options_mut() = Default::default();
        // Each old content was switched to Retain before it was deleted, and
        // is gone.
        let repair: Vec<&vmbackup_engine::Action> = self.a.controller().executed()[before..]
            .iter()
            .map(|e| &e.step.action)
            .collect();
        for name in &old_contents {
            let retained = repair.iter().position(|a| {
                matches!(a, vmbackup_engine::Action::Patch { target, patch, .. }
                    if target.name == *name
                        && patch.string_at("/spec/deletionPolicy").as_deref() == Some("Retain"))
            });
            let deleted = repair.iter().position(|a| {
                matches!(a, vmbackup_engine::Action::Delete { target, .. }
                    if target.kind == Kind::VolumeSnapshotContent && target.name == *name)
            });
            check(
                matches!((retained, deleted), (Some(r), Some(d)) if r < d),
                || format!("content {name} was not set to Retain before it was deleted"),
            )?;
            check(
                self.a
                    .store()
                    .get_as::<vmbackup_api::VolumeSnapshotContent>("", name)
                    .is_none(),
                || format!("old content {name} is still there"),
            )?;
        }
        let handles = self.handles(NS, LEGACY);
        check(
            handles.len() == 2 && handles.iter().all(|h| h.starts_with("bak://pvc-")),
            || format!("handles after repair: {handles:?}"),
        )?;
        let after = self.a.longhorn_backup_ids();
        check(kept.iter().all(|b| after.contains(b)), || {
            "a Longhorn backup was lost during the repair".into()
        })?;
        check(
            self.a.vmbackup(NS, LEGACY).is_some_and(|b| b.is_ready()),
            || "the repaired VMBackup is not ready".into(),
        )?;
        self.line(format!(
            "vmbackup repair: new contents with handles {}; the {} old ones were set to Retain, then removed; every Longhorn backup kept",
            handles.join(", "),
            old_contents.len()
        ));
        let expected = self.at_legacy.clone();
        Self::restore(
            &mut self.a,
            OTHER_NS,
            "restore-vm1-legacy",
            LEGACY,
            &expected,
        )
    }

    /// Step 4.
    fn second_cluster(&mut self) -> Result<String, Failed> {
        let mut b = Cluster::new(
            "cluster-b",
            LonghornVersion::V1_8,
            &self.dir.join("cluster-b"),
            Some(self.target.clone()),
        )?;
        b.configure_target(60)?;
        b.run_until_settled()?;
        let found: Vec<String> = b
            .store()
            .list::<vmbackup_api::VirtualMachineBackup>()
            .filter(|v| v.is_ready())
            .filter_map(|v| v.metadata.name.clone())
            .collect();
        check(found.iter().any(|n| n == BACKUP), || {
            format!("cluster-b did not rediscover {BACKUP}; it has {found:?}")
        })?;
        self.line(format!(
            "cluster-b (Longhorn {}) with the same target, refreshIntervalInSeconds 60: rediscovered {}",
            LonghornVersion::V1_8.release(),
            found.join(", ")
        ));
        let expected = self.at_backup.clone();
        let detail = Self::restore(&mut b, NS, "restore-vm1", BACKUP, &expected)?;
        self.b = Some(b);
        Ok(detail)
    }

    fn all_backups(c: &Cluster) -> Vec<(String, bool, String)> {
        c.store()
            .list::<vmbackup_api::VirtualMachineBackup>()
            .map(|v| {
                let reason = v
                    .condition("Ready")
                    .and_then(|c| c.reason.clone())
                    .unwrap_or_default();
                (
                    format!(
                        "{}/{}",
                        v.metadata.namespace.as_deref().unwrap_or_default(),
                        v.metadata.name.as_deref().unwrap_or_default()
                    ),
                    v.is_ready(),
                    reason,
                )
            })
            .collect()
    }

    /// Step 5.
    fn disconnect(&mut self) -> Result<String, Failed> {
        let Some(b) = self.b.as_mut() else {
            return Err(Failed("cluster-b is missing".into()));
        };
        self.target.set_available(false);
        self.a.advance(Duration::from_secs(61))?;
        b.advance(Duration::from_secs(61))?;
        let mut down = Vec::new();
        for c in [&self.a, &*b] {
            for (name, ready, reason) in Self::all_backups(c) {
                check(!ready, || {
                    format!(
                        "{name} on {} stayed ready while the target was unreachable",
                        c.name()
                    )
                })?;
                down.push((c.name().to_owned(), name, reason));
            }
        }
        let reason = down.first().map(|d| d.2.clone()).unwrap_or_default();
        let n = down.len();
        (self.say)(&format!(
            "  target disconnected: {n} VMBackups on both clusters are not ready ({reason})"
        ));
        self.target.set_available(true);
        self.a.advance(Duration::from_secs(301))?;
        b.advance(Duration::from_secs(61))?;
        for c in [&self.a, &*b] {
            for (name, ready, reason) in Self::all_backups(c) {
                check(ready, || {
                    format!(
                        "{name} on {} is not ready again after the target came back: {reason}",
                        c.name()
                    )
                })?;
            }
        }
        (self.say)("  target reconnected: every VMBackup is ready again");
        Ok(format!(
            "{n} VMBackups went not ready while the target was unreachable and ready again once it came back"
        ))
    }

    /// Step 6.
    fn lost_contents(&mut self) -> Result<String, Failed> {
        let Some(b) = self.b.as_mut() else {
            return Err(Failed("cluster-b is missing".into()));
        };
        let contents: Vec<ObjectRef> = b
            .store()
            .list::<vmbackup_api::VolumeSnapshotContent>()
            .filter_map(|c| c.metadata.name.as_deref())
            .map(|n| ObjectRef::cluster(Kind::VolumeSnapshotContent, n))
            .collect();
        check(!contents.is_empty(), || {
            "cluster-b has no contents to lose".into()
        })?;
        b.lose(&contents);
        b.controller_mut().request_sync();
        b.run_until_settled()?;
        for (name, ready, reason) in Self::all_backups(b) {
            check(ready, || {
                format!("{name} is not ready after losing its contents: {reason}")
            })?;
        }
        let working = b.working_contents().len();
        let n = contents.len();
        (self.say)(&format!(
            "  cluster-b lost its {n} VolumeSnapshotContents; vmbackup bound every backup again to its Longhorn backup ({working} working contents)"
        ));
        b.create_namespace(DR_NS)?;
        let expected = self.at_legacy.clone();
        Self::restore(b, DR_NS, "restore-dr", LEGACY, &expected)
    }

    /// Step 7.
    fn export(&mut self) -> Result<String, Failed> {
        // Nothing of the clusters is used: the target directory is opened
        // as a plain local path, as `vmbackup target export` would.
        let dir = self.target.dir().to_owned();
        let out = self.dir.join("export");
        std::fs::create_dir_all(&out).map_err(|e| Failed(format!("{}: {e}", out.display())))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed(e.to_string()))?;
        let url = dir.to_string_lossy().into_owned();
        // Nothing else uses this target, so the lock protocol's settle time
        // (meant for other writers on a shared target) is not waited for.
        let target = rt
            .block_on(Target::open(&url, &TargetOptions::default()))?
            .with_lock_settle(Duration::ZERO);
        let meta = rt
            .block_on(target.read_vm_backup_metadata(NS, BACKUP))?
            .ok_or_else(|| Failed(format!("no metadata for {NS}/{BACKUP} on the target")))?;
        let mut lines = Vec::new();
        for v in meta.volumes() {
            let (Some(volume), Some(backup)) =
                (v.longhorn_volume.as_deref(), v.longhorn_backup.as_deref())
            else {
                continue;
            };
            let dest = out.join(format!("{}.raw", v.vm_volume));
            let options = ExportOptions {
                overwrite: true,
                ..ExportOptions::default()
            };
            rt.block_on(target.export_raw(volume, backup, &dest, &options, &NoProgress))?;
            let sha = file_sha256(&dest)?;
            let expected = self
                .at_backup
                .get(&v.vm_volume)
                .cloned()
                .unwrap_or_default();
            check(sha == expected, || {
                format!(
                    "{} exported with sha256 {sha}, expected {expected}",
                    dest.display()
                )
            })?;
            lines.push(format!("{} → {} sha256 {sha}", v.vm_volume, dest.display()));
        }
        check(lines.len() == 2, || {
            format!("exported {} disks, expected 2", lines.len())
        })?;
        Ok(format!(
            "read {NS}/{BACKUP} from the target directory alone and exported {}; sha256 equals the source's at backup time",
            lines.join(", ")
        ))
    }
}
