//! KubeVirt, as far as backups care: a VM that should run starts once every
//! PVC it uses is bound and its Longhorn volume is not being restored; a
//! stopped VM reports `Stopped`.

use vmbackup_api::kubevirt::{VirtualMachine, VirtualMachineStatus};
use vmbackup_api::longhorn::Volume;
use vmbackup_engine::{Kind, ObjectRef};

use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;
use crate::longhorn;
use crate::typed::{Pv, Pvc};

/// Component name in events.
pub const CONTROLLER: &str = "virt-controller";

/// Whether the VM's run strategy asks for it to run.
pub fn wants_running(vm: &VirtualMachine) -> bool {
    match vm.spec.run_strategy.as_deref() {
        Some("Always" | "RerunOnFailure" | "Once") => true,
        Some(_) => false,
        None => vm.spec.running == Some(true),
    }
}

/// Why a VM cannot start yet, if it cannot.
fn blocked(env: &Env, ns: &str, vm: &VirtualMachine) -> Option<String> {
    for volume in vm.volumes() {
        let Some(claim) = volume.claim_name() else {
            continue;
        };
        let Some(pvc) = env.store.get_as::<Pvc>(ns, claim) else {
            return Some(format!("PVC {ns}/{claim} does not exist"));
        };
        let Some(pv) = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()) else {
            return Some(format!("PVC {ns}/{claim} is not bound"));
        };
        let handle = env
            .store
            .get_as::<Pv>("", pv)
            .and_then(|p| p.spec.as_ref()?.csi.as_ref())
            .map(|c| c.volume_handle.clone());
        if let Some(handle) = handle
            && let Some(v) = env.store.get_as::<Volume>(longhorn::NAMESPACE, &handle)
        {
            if v.restore_failed() {
                return Some(format!("volume {handle} failed to restore"));
            }
            if v.status.as_ref().and_then(|s| s.restore_required) == Some(true) {
                return Some(format!("volume {handle} is being restored"));
            }
        }
    }
    None
}

/// One pass over every VM.
pub fn run(env: &mut Env) -> Result<(), SimError> {
    let vms: Vec<VirtualMachine> = env.store.list::<VirtualMachine>().cloned().collect();
    for vm in vms {
        let ns = vm.metadata.namespace.clone().unwrap_or_default();
        let name = vm.metadata.name.clone().unwrap_or_default();
        if vm.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let (created, ready, printable) = if !wants_running(&vm) {
            (false, false, "Stopped".to_owned())
        } else {
            match blocked(env, &ns, &vm) {
                None => (true, true, "Running".to_owned()),
                Some(why) => {
                    env.event(
                        CONTROLLER,
                        ObjectRef::namespaced(Kind::VirtualMachine, &ns, &name),
                        EventType::Normal,
                        "WaitingForVolumes",
                        why,
                    );
                    (false, false, "Provisioning".to_owned())
                }
            }
        };
        let was_ready = vm.status.as_ref().and_then(|s| s.ready) == Some(true);
        env.store.update::<VirtualMachine>(&ns, &name, |vm| {
            let s = vm.status.get_or_insert_with(VirtualMachineStatus::default);
            s.created = Some(created);
            s.ready = Some(ready);
            s.printable_status = Some(printable.clone());
        })?;
        if ready && !was_ready {
            env.event(
                CONTROLLER,
                ObjectRef::namespaced(Kind::VirtualMachine, &ns, &name),
                EventType::Normal,
                "Started",
                "VirtualMachine started: every volume is bound",
            );
        }
    }
    Ok(())
}
