//! Fuzz the snapshot-handle parser: on any bytes it must not panic, and every
//! handle it accepts must format back to the same bytes, parse again to the
//! same value, and be read by Longhorn's driver the way we read it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vmbackup_api::handle::{HandleClass, MalformedReason, SnapshotHandle, classify, longhorn};

fuzz_target!(|data: &[u8]| {
    let parsed = SnapshotHandle::parse_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        // Longhorn's own reading never fails either.
        let _ = longhorn::read(text).action();
        let class = classify(text);
        assert_eq!(class == HandleClass::Malformed, parsed.is_err());
    }
    match parsed {
        Ok(handle) => {
            let text = handle.to_string();
            assert_eq!(text.as_bytes(), data, "format(parse(h)) != h");
            let again = SnapshotHandle::parse(&text).expect("a formatted handle parses");
            assert_eq!(again, handle);

            let reading = longhorn::read(&text);
            match &handle {
                SnapshotHandle::Snapshot { volume, snapshot } => {
                    assert_eq!(reading.csi_type, longhorn::TYPE_SNAPSHOT);
                    assert_eq!(reading.volume, volume.as_str());
                    assert_eq!(reading.id, snapshot.as_str());
                }
                SnapshotHandle::Backup(backup) => {
                    assert_eq!(reading.csi_type, longhorn::TYPE_BACKUP);
                    assert_eq!(reading.volume, backup.volume());
                    assert_eq!(reading.id, backup.backup().as_str());
                    if let Some(canonical) = backup.to_canonical_bak() {
                        assert!(!canonical.is_legacy_prefix());
                        assert_eq!(canonical.backup(), backup.backup());
                    }
                }
                SnapshotHandle::BackingImage(params) => {
                    assert_eq!(reading.csi_type, longhorn::TYPE_BACKING_IMAGE);
                    assert!(!params.backing_image().as_str().is_empty());
                }
            }
        }
        Err(err) => {
            assert!(MalformedReason::CODES.contains(&err.reason().code()));
            // Messages are bounded however long the input is.
            assert!(err.to_string().len() < 2048);
        }
    }
});
