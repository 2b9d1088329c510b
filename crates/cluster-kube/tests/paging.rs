//! Reading a cluster: lists follow continue tokens page by page; kinds the
//! cluster does not serve or does not let us read are recorded as not
//! listed (their absence proves nothing); Secrets are read by name, only
//! those the VMs use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::cluster::{self, collection, object_path};
use support::fake::status;
use support::scripted::{Exchange, list, serve};
use vmbackup_engine::Kind;
use vmbackup_kube::resources::LISTED_KINDS;
use vmbackup_kube::{Error, Listing, LoadOptions, NoProgress, SecretReads, load};

fn vmbackup(name: &str) -> Value {
    let mut v = cluster::vmbackup();
    v["metadata"]["name"] = json!(name);
    v
}

/// One list request per kind with `limit`, answered empty, except where
/// `special` gives the exchanges for a kind.
fn script(limit: u32, special: Vec<(Kind, Vec<Exchange>)>) -> Vec<Exchange> {
    let mut out = Vec::new();
    for kind in LISTED_KINDS {
        match special.iter().find(|(k, _)| k == kind) {
            Some((_, exchanges)) => out.extend(exchanges.iter().cloned()),
            None => out.push(
                Exchange::new("GET", collection(*kind), &format!("&limit={limit}"))
                    .reply(200, list(Vec::new(), None)),
            ),
        }
    }
    out
}

fn options(page_size: u32) -> LoadOptions {
    LoadOptions {
        page_size,
        secrets: SecretReads::None,
    }
}

fn listing(loaded: &vmbackup_kube::Loaded, kind: Kind) -> Listing {
    loaded
        .kinds
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| l.clone())
        .unwrap()
}

#[tokio::test]
async fn a_listing_follows_continue_tokens_across_three_pages() {
    let path = collection(Kind::VirtualMachineBackup);
    let pages = vec![
        Exchange::new("GET", &path, "&limit=2").reply(
            200,
            list(vec![vmbackup("b1"), vmbackup("b2")], Some("token-1")),
        ),
        Exchange::new("GET", &path, "&limit=2&continue=token-1").reply(
            200,
            list(vec![vmbackup("b3"), vmbackup("b4")], Some("token-2")),
        ),
        Exchange::new("GET", &path, "&limit=2&continue=token-2")
            .reply(200, list(vec![vmbackup("b5")], None)),
    ];
    let (client, server) = serve(script(2, vec![(Kind::VirtualMachineBackup, pages)]));
    let loaded = load(&client, &options(2), &NoProgress).await.unwrap();
    drop(client);
    server.await.unwrap();
    let names: Vec<&str> = loaded.view.vmbackups().keys().map(|(_, n)| n).collect();
    assert_eq!(names, ["b1", "b2", "b3", "b4", "b5"]);
    assert_eq!(
        listing(&loaded, Kind::VirtualMachineBackup),
        Listing::Complete {
            objects: 5,
            pages: 3
        }
    );
    assert!(loaded.view.is_listed(Kind::VirtualMachineBackup));
    assert!(loaded.view.is_listed(Kind::StorageClass));
    assert!(!loaded.view.is_listed(Kind::Secret));
    assert!(loaded.notes().is_empty(), "{:?}", loaded.notes());
}

#[tokio::test]
async fn kinds_not_served_or_not_allowed_are_not_listed_and_said_so() {
    let not_found = |kind| {
        vec![Exchange::new("GET", collection(kind), "&limit=500").reply(
            404,
            status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        )]
    };
    let forbidden = vec![
        Exchange::new("GET", collection(Kind::VirtualMachine), "&limit=500").reply(
            403,
            status(
                403,
                "Forbidden",
                "virtualmachines.kubevirt.io is forbidden: User \"ops\" cannot list resource",
            ),
        ),
    ];
    let special = vec![
        (Kind::LonghornBackup, not_found(Kind::LonghornBackup)),
        (Kind::LonghornEngine, not_found(Kind::LonghornEngine)),
        (Kind::VirtualMachine, forbidden),
    ];
    let (client, server) = serve(script(500, special));
    let loaded = load(&client, &options(500), &NoProgress).await.unwrap();
    drop(client);
    server.await.unwrap();
    assert_eq!(listing(&loaded, Kind::LonghornBackup), Listing::NotServed);
    assert!(
        matches!(listing(&loaded, Kind::VirtualMachine), Listing::Forbidden { message } if message.contains("cannot list"))
    );
    for kind in [
        Kind::LonghornBackup,
        Kind::LonghornEngine,
        Kind::VirtualMachine,
    ] {
        assert!(!loaded.view.is_listed(kind), "{kind:?}");
    }
    assert!(loaded.view.is_listed(Kind::VolumeSnapshotContent));
    let notes = loaded.notes().join("\n");
    assert!(
        notes.contains("Backup (longhorn.io/v1beta2) is not served"),
        "{notes}"
    );
    assert!(
        notes.contains("VirtualMachine (kubevirt.io/v1) could not be read"),
        "{notes}"
    );
}

#[tokio::test]
async fn an_expired_continue_token_starts_the_listing_over() {
    let path = collection(Kind::VolumeSnapshotContent);
    let mut content = cluster::content();
    let pages = vec![
        Exchange::new("GET", &path, "&limit=1")
            .reply(200, list(vec![content.clone()], Some("old"))),
        Exchange::new("GET", &path, "&limit=1&continue=old").reply(
            410,
            status(410, "Expired", "The provided continue parameter is too old"),
        ),
        Exchange::new("GET", &path, "&limit=1")
            .reply(200, list(vec![content.clone()], Some("new"))),
        Exchange::new("GET", &path, "&limit=1&continue=new").reply(200, {
            content["metadata"]["name"] = json!("second");
            list(vec![content.clone()], None)
        }),
    ];
    let (client, server) = serve(script(1, vec![(Kind::VolumeSnapshotContent, pages)]));
    let loaded = load(&client, &options(1), &NoProgress).await.unwrap();
    drop(client);
    server.await.unwrap();
    assert_eq!(loaded.view.contents().len(), 2);
    assert_eq!(
        listing(&loaded, Kind::VolumeSnapshotContent),
        Listing::Complete {
            objects: 2,
            pages: 2
        }
    );
}

#[tokio::test]
async fn a_server_that_repeats_its_continue_token_is_an_error_not_a_loop() {
    let path = collection(Kind::Setting);
    let pages = vec![
        Exchange::new("GET", &path, "&limit=500").reply(200, list(vec![], Some("same"))),
        Exchange::new("GET", &path, "&limit=500&continue=same")
            .reply(200, list(vec![], Some("same"))),
    ];
    let mut exchanges = script(500, vec![(Kind::Setting, pages)]);
    exchanges.truncate(2);
    let (client, server) = serve(exchanges);
    let err = load(&client, &options(500), &NoProgress).await.unwrap_err();
    drop(client);
    server.await.unwrap();
    assert!(
        matches!(&err, Error::Paging { kind: Kind::Setting, token } if token == "same"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_error_stops_the_read_naming_the_kind() {
    let failing = vec![
        Exchange::new("GET", collection(Kind::Namespace), "&limit=500").reply(
            500,
            status(500, "InternalError", "etcdserver: request timed out"),
        ),
    ];
    let mut exchanges = script(500, vec![(Kind::Namespace, failing)]);
    exchanges.truncate(2);
    let (client, server) = serve(exchanges);
    let err = load(&client, &options(500), &NoProgress).await.unwrap_err();
    drop(client);
    server.await.unwrap();
    let text = err.to_string();
    assert!(text.starts_with("listing Namespace failed"), "{text}");
    assert!(text.contains("etcdserver"), "{text}");
}

#[tokio::test]
async fn an_object_that_does_not_read_is_left_out_and_its_kind_not_listed() {
    let mut bad = vmbackup("bad");
    bad["status"]["volumeBackups"][0]["volumeSize"] = json!("ten");
    let pages = vec![
        Exchange::new("GET", collection(Kind::VirtualMachineBackup), "&limit=500")
            .reply(200, list(vec![vmbackup("good"), bad], None)),
    ];
    let (client, server) = serve(script(500, vec![(Kind::VirtualMachineBackup, pages)]));
    let loaded = load(&client, &options(500), &NoProgress).await.unwrap();
    drop(client);
    server.await.unwrap();
    assert!(loaded.view.vmbackup("default", "good").is_some());
    assert!(!loaded.view.is_listed(Kind::VirtualMachineBackup));
    assert_eq!(loaded.invalid.len(), 1);
    let note = loaded.invalid[0].to_string();
    assert!(
        note.starts_with("VirtualMachineBackup default/bad left out"),
        "{note}"
    );
    assert!(note.contains("volumeSize"), "{note}");
}

#[tokio::test]
async fn only_the_secrets_vms_use_are_read_one_by_one() {
    let vm = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": "vm1", "namespace": "default"},
        "spec": {"template": {"spec": {"volumes": [
            {"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "vm1-userdata"}}},
            {"name": "ci2", "cloudInitConfigDrive": {"secretRef": {"name": "gone"}}}]}}}});
    let vms = vec![
        Exchange::new("GET", collection(Kind::VirtualMachine), "&limit=500")
            .reply(200, list(vec![vm], None)),
    ];
    let mut exchanges = script(500, vec![(Kind::VirtualMachine, vms)]);
    exchanges.push(
        Exchange::new(
            "GET",
            object_path(Kind::Secret, Some("default"), "gone"),
            "",
        )
        .reply(404, status(404, "NotFound", "secrets \"gone\" not found")),
    );
    exchanges.push(
        Exchange::new(
            "GET",
            object_path(Kind::Secret, Some("default"), "vm1-userdata"),
            "",
        )
        .reply(
            200,
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "vm1-userdata", "namespace": "default"},
                "data": {"userdata": "I2Nsb3VkLWNvbmZpZw=="}}),
        ),
    );
    let (client, server) = serve(exchanges);
    let loaded = load(&client, &LoadOptions::default(), &NoProgress)
        .await
        .unwrap();
    drop(client);
    server.await.unwrap();
    assert!(loaded.view.secret("default", "vm1-userdata").is_some());
    assert!(!loaded.view.is_listed(Kind::Secret));
    assert_eq!(
        listing(&loaded, Kind::Secret),
        Listing::Fetched {
            objects: 1,
            asked: 2
        }
    );
}
