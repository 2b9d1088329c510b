//! Properties of the codec over generated handles: well-formed handles format
//! back to themselves, Longhorn's driver reads every accepted handle the same
//! way we do, and nothing panics on any input.

use proptest::prelude::*;

use super::*;

fn volume_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_.-]{1,39}"
}

/// A DNS-1123 subdomain, as Kubernetes object names are.
fn object_name() -> impl Strategy<Value = String> {
    let label = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?";
    prop::collection::vec(label, 1..4).prop_map(|labels| labels.join("."))
}

fn backup_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{16}".prop_map(|hex| format!("backup-{hex}")),
        object_name().prop_filter("at least two characters", |n| n.len() >= 2),
    ]
}

fn legacy_volume_part() -> impl Strategy<Value = String> {
    prop_oneof![volume_name(), object_name()]
}

fn backing_image_handle() -> impl Strategy<Value = String> {
    (
        "[a-z0-9][a-z0-9-]{0,30}[a-z0-9]",
        prop_oneof![Just("export-from-volume"), Just("download")],
        prop::collection::vec(("[a-z][a-zA-Z0-9_.-]{0,10}", "[a-zA-Z0-9_.-]{0,12}"), 0..3),
        any::<bool>(),
    )
        .prop_filter_map("unique keys", |(image, source, extra, image_first)| {
            let mut pairs = vec![
                ("backingImage".to_owned(), image),
                ("backingImageDataSourceType".to_owned(), source.to_owned()),
            ];
            if !image_first {
                pairs.swap(0, 1);
            }
            pairs.extend(extra);
            let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.len() != pairs.len() || keys.contains(&"volume-name") {
                return None;
            }
            let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Some(format!("bi://backing?{}", query.join("&")))
        })
}

fn valid_handle() -> impl Strategy<Value = String> {
    prop_oneof![
        (volume_name(), backup_name()).prop_map(|(v, b)| format!("bak://{v}/{b}")),
        (legacy_volume_part(), backup_name()).prop_map(|(v, b)| format!("bs://{v}/{b}")),
        (volume_name(), object_name()).prop_map(|(v, s)| format!("snap://{v}/{s}")),
        backing_image_handle(),
    ]
}

/// Strings built from the pieces handles are made of, so that many of them
/// come close to being handles.
fn handle_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(""),
            Just("bak"),
            Just("bs"),
            Just("snap"),
            Just("bi"),
            Just("BAK"),
            Just("bk")
        ],
        prop_oneof![Just("://"), Just(":/"), Just(""), Just(":///")],
        "[a-zA-Z0-9_./:?&=%# -]{0,40}",
    )
        .prop_map(|(scheme, sep, rest)| format!("{scheme}{sep}{rest}"))
}

/// Longhorn reads an accepted handle exactly as we parsed it.
fn assert_longhorn_agrees(handle: &str, parsed: &SnapshotHandle) {
    let reading = longhorn::read(handle);
    match parsed {
        SnapshotHandle::Snapshot { volume, snapshot } => {
            assert_eq!(reading.csi_type, "snap");
            assert_eq!(reading.volume, volume.as_str());
            assert_eq!(reading.id, snapshot.as_str());
            assert_eq!(reading.action(), longhorn::LonghornAction::CloneSnapshot);
        }
        SnapshotHandle::Backup(b) => {
            assert_eq!(reading.csi_type, "bak");
            assert_eq!(reading.volume, b.volume());
            assert_eq!(reading.id, b.backup().as_str());
            assert_eq!(reading.action(), longhorn::LonghornAction::RestoreBackup);
        }
        SnapshotHandle::BackingImage(_) => {
            assert_eq!(reading.csi_type, "bi");
            assert_eq!(reading.action(), longhorn::LonghornAction::UseBackingImage);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_handles_format_back_to_themselves(handle in valid_handle()) {
        let parsed = SnapshotHandle::parse(&handle).unwrap();
        prop_assert_eq!(parsed.to_string(), handle.clone());
        prop_assert_ne!(parsed.class(), HandleClass::Malformed);
        assert_longhorn_agrees(&handle, &parsed);
        // And through the typed parts again.
        let again = SnapshotHandle::parse(&parsed.to_string()).unwrap();
        prop_assert_eq!(again, parsed);
    }

    #[test]
    fn legacy_handles_respell_to_bak_when_the_volume_part_is_a_volume_name(
        volume in volume_name(),
        backup in backup_name(),
    ) {
        let legacy = SnapshotHandle::parse(&format!("bs://{volume}/{backup}")).unwrap();
        prop_assert_eq!(legacy.class(), HandleClass::LegacyBs);
        let canonical = legacy.to_canonical_bak().unwrap();
        prop_assert_eq!(canonical.class(), HandleClass::Backup);
        // Longhorn's own writer gives the same string.
        prop_assert_eq!(canonical.to_string(), longhorn::write("bs", &volume, &backup));
    }

    #[test]
    fn handle_like_strings_never_panic_and_accepted_ones_agree(handle in handle_like()) {
        match SnapshotHandle::parse(&handle) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.to_string(), handle.clone());
                assert_longhorn_agrees(&handle, &parsed);
                prop_assert_eq!(classify(&handle), parsed.class());
            }
            Err(err) => {
                prop_assert_eq!(classify(&handle), HandleClass::Malformed);
                prop_assert_eq!(err.handle(), handle.as_str());
                prop_assert!(MalformedReason::CODES.contains(&err.reason().code()));
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(handle in any::<String>()) {
        let _ = longhorn::read(&handle);
        if let Ok(parsed) = SnapshotHandle::parse(&handle) {
            prop_assert_eq!(parsed.to_string(), handle.clone());
            assert_longhorn_agrees(&handle, &parsed);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(parsed) = SnapshotHandle::parse_bytes(&bytes) {
            prop_assert_eq!(parsed.to_string().into_bytes(), bytes);
        }
    }
}
