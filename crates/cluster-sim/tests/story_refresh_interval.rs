//! refreshIntervalInSeconds decides whether a cluster sees backups another
//! cluster writes later: with 0 they appear only when the setting changes
//! or on request (and vmbackup says so); with 60 they appear within a
//! minute or so, once Longhorn has synced them too.

mod common;

use std::time::Duration;

use common::*;
use vmbackup_engine::Code;
use vmbackup_sim::LonghornVersion;

#[test]
fn with_zero_new_backups_wait_for_a_request_and_with_sixty_they_arrive_on_their_own() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-first");

    // Both clusters rediscover what is there when they are configured.
    let mut zero = world.cluster("cluster-zero", LonghornVersion::V1_8, 0);
    let mut sixty = world.cluster("cluster-sixty", LonghornVersion::V1_8, 60);
    for c in [&zero, &sixty] {
        assert!(
            c.vmbackup("default", "vm1-first")
                .is_some_and(|b| b.is_ready()),
            "{}",
            c.name()
        );
    }

    // Cluster A takes another backup; ten minutes pass.
    back_up(&mut a, "default", "vm1", "vm1-second");
    zero.advance(Duration::from_secs(600)).unwrap();
    sixty.advance(Duration::from_secs(600)).unwrap();

    assert!(
        sixty
            .vmbackup("default", "vm1-second")
            .is_some_and(|b| b.is_ready()),
        "periodic rediscovery imported the new backup"
    );
    assert!(
        zero.vmbackup("default", "vm1-second").is_none(),
        "with 0, nothing is rediscovered by time alone"
    );
    assert!(
        zero.controller()
            .findings()
            .iter()
            .any(|f| f.code == Code::RefreshDisabled),
        "and vmbackup says why"
    );
    assert!(
        !sixty
            .controller()
            .findings()
            .iter()
            .any(|f| f.code == Code::RefreshDisabled)
    );

    // A rediscovery on request (the `vmbackup.io/sync-requested-at` annotation) brings it in.
    zero.controller_mut().request_sync();
    zero.run_until_settled().unwrap();
    assert!(
        zero.vmbackup("default", "vm1-second")
            .is_some_and(|b| b.is_ready()),
        "{:#?}",
        zero.controller().findings()
    );
}
