//! The Longhorn backupstore test vectors: paths, names, checksums, exact
//! JSON bytes, lock files, compression headers, block sizes, URLs, layouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use vmbackup_backupstore::config::parse_quantity;
use vmbackup_backupstore::name::{is_manager_volume_name, is_valid_name};
use vmbackup_backupstore::{
    BackupConfig, BlockEntry, Checksum, Compression, Target, TargetUrl, VolumeConfig, block,
    decode_backup_url, encode_backup_url, layout, target::parse_target_url,
};

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/longhorn-backupstore-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn volume_paths() {
    let v = vectors();
    let list = v["volume_paths"].as_array().unwrap();
    assert!(list.len() >= 10);
    for case in list {
        let name = s(&case["name"]);
        assert_eq!(
            layout::volume_dir(name).unwrap(),
            s(&case["volume_dir"]),
            "{name}"
        );
        assert_eq!(layout::volume_cfg(name).unwrap(), s(&case["volume_cfg"]));
        assert_eq!(layout::backups_dir(name).unwrap(), s(&case["backups_dir"]));
        assert_eq!(layout::blocks_dir(name).unwrap(), s(&case["blocks_dir"]));
        assert_eq!(layout::locks_dir(name).unwrap(), s(&case["locks_dir"]));
    }
}

fn block_content(id: &str, len: usize) -> Vec<u8> {
    match id {
        "zero-2MiB" | "zero-16MiB" => vec![0; len],
        "ones-2MiB" => vec![1; len],
        "text-2MiB" => {
            let mut b = b"Hello, Longhorn!\n".to_vec();
            b.resize(len, 0);
            b
        }
        "ramp-2MiB" => (0..len).map(|i| (i % 256) as u8).collect(),
        "short-string" => b"Some random string".to_vec(),
        "empty" => Vec::new(),
        other => panic!("unknown block vector {other}"),
    }
}

#[test]
fn block_checksums_and_paths() {
    let v = vectors();
    for case in v["blocks"].as_array().unwrap() {
        let id = s(&case["id"]);
        let data = block_content(id, case["length"].as_u64().unwrap() as usize);
        let sum = block::checksum(&data);
        assert_eq!(sum.to_string(), s(&case["checksum"]), "{id}");
        assert_eq!(layout::block_rel_path(&sum), s(&case["rel_path"]));
        assert_eq!(
            layout::block_path("pvc-0123abcd-test", &sum).unwrap(),
            s(&case["path_for_volume_pvc-0123abcd-test"])
        );
        // Every compression method stores and restores it.
        for m in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let c = block::compress(m, &data);
            assert_eq!(
                block::decompress(m, &c, data.len() as u64, "x").unwrap(),
                data
            );
        }
    }
}

#[test]
fn backup_config_files_and_names() {
    let v = vectors();
    for case in v["backup_config_files"].as_array().unwrap() {
        let name = s(&case["backup_name"]);
        let valid = case["valid_name"].as_bool().unwrap();
        assert_eq!(is_valid_name(name), valid, "{name}");
        let path = layout::backup_cfg("vol", name);
        if valid {
            assert_eq!(path.unwrap(), s(&case["path_for_volume_vol"]));
            assert_eq!(
                layout::backup_name_from_file(s(&case["file_name"])),
                Some(name)
            );
        } else {
            assert!(path.is_err());
        }
    }
    for case in v["name_validation"].as_array().unwrap() {
        let name = s(&case["name"]);
        assert_eq!(
            is_valid_name(name),
            case["backupstore_valid"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(
            is_manager_volume_name(name),
            case["manager_valid"].as_bool().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn backup_urls() {
    let v = vectors();
    for case in v["backup_urls"].as_array().unwrap() {
        let encoded = encode_backup_url(
            s(&case["backup_name"]),
            s(&case["volume_name"]),
            s(&case["dest_url"]),
        );
        assert_eq!(encoded, s(&case["encoded"]));
        let d = decode_backup_url(&encoded).unwrap();
        assert_eq!(d.backup, s(&case["decoded_backup"]));
        assert_eq!(d.volume, s(&case["decoded_volume"]));
        assert_eq!(d.target_url, s(&case["decoded_dest_url"]));
    }
}

fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    v.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), s(v).to_owned()))
            .collect()
    })
}

fn text(input: &Value, key: &str) -> String {
    input
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn int(input: &Value, key: &str) -> i64 {
    input.get(key).and_then(Value::as_i64).unwrap_or_default()
}

#[test]
fn json_documents_byte_for_byte() {
    let v = vectors();
    let docs = v["json_documents"].as_object().unwrap();
    assert_eq!(docs.len(), 7);
    for (id, doc) in docs {
        let input = &doc["input"];
        let bytes = s(&doc["bytes"]).as_bytes();
        if id.starts_with("volume_cfg") {
            let cfg = VolumeConfig {
                name: text(input, "Name"),
                size: int(input, "Size"),
                labels: input.get("Labels").and_then(string_map),
                created_time: text(input, "CreatedTime"),
                last_backup_name: text(input, "LastBackupName"),
                last_backup_at: text(input, "LastBackupAt"),
                block_count: int(input, "BlockCount"),
                backing_image_name: text(input, "BackingImageName"),
                backing_image_checksum: text(input, "BackingImageChecksum"),
                compression_method: text(input, "CompressionMethod"),
                storage_class_name: text(input, "StorageClassName"),
                data_engine: text(input, "DataEngine"),
                extra: Vec::new(),
            };
            assert_eq!(
                String::from_utf8(cfg.to_json()).unwrap(),
                s(&doc["bytes"]),
                "{id}"
            );
            assert_eq!(VolumeConfig::from_json(bytes, id).unwrap(), cfg, "{id}");
        } else {
            let blocks = input
                .get("Blocks")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|b| BlockEntry {
                            offset: b[0].as_u64().unwrap(),
                            checksum: Checksum::parse(s(&b[1])).unwrap(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let cfg = BackupConfig {
                name: text(input, "Name"),
                volume_name: text(input, "VolumeName"),
                snapshot_name: text(input, "SnapshotName"),
                snapshot_created_at: text(input, "SnapshotCreatedAt"),
                created_time: text(input, "CreatedTime"),
                size: int(input, "Size"),
                labels: input.get("Labels").and_then(string_map),
                parameters: input.get("Parameters").and_then(string_map),
                is_incremental: input
                    .get("IsIncremental")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                compression_method: text(input, "CompressionMethod"),
                newly_uploaded_data_size: int(input, "NewlyUploadedDataSize"),
                re_uploaded_data_size: int(input, "ReUploadedDataSize"),
                processing_blocks: text(input, "note").contains("{}"),
                blocks,
                single_file_path: String::new(),
                extra: Vec::new(),
            };
            assert_eq!(
                String::from_utf8(cfg.to_json()).unwrap(),
                s(&doc["bytes"]),
                "{id}"
            );
            assert_eq!(BackupConfig::from_json(bytes, id).unwrap(), cfg, "{id}");
        }
    }
    // The placeholder a writer saves first is exactly Longhorn's.
    let placeholder = BackupConfig::in_progress(
        "backup-854f6ced7b4942d4",
        "pvc-0123abcd-test",
        Compression::Lz4,
    );
    assert_eq!(
        String::from_utf8(placeholder.to_json()).unwrap(),
        s(&v["json_documents"]["backup_cfg_in_progress"]["bytes"])
    );
}

#[tokio::test]
async fn lock_files() {
    let v = vectors();
    let l = &v["lock_files"];
    assert_eq!(
        layout::lock_path("vol", "lock-0123456789ab4def").unwrap(),
        s(&l["example_path_for_volume_vol"])
    );
    assert_eq!(
        layout::locks_dir("BACKINGIMAGE").unwrap(),
        s(&l["backing_image_lock_dir"])
    );
    assert_eq!(l["durations_seconds"]["expiry"], 150);
    assert_eq!(vmbackup_backupstore::lock::LOCK_EXPIRY.as_secs(), 150);
    assert_eq!(
        vmbackup_backupstore::lock::LOCK_REFRESH.as_secs(),
        l["durations_seconds"]["refresh"].as_u64().unwrap()
    );

    // A lock we take is a file of exactly Longhorn's shape.
    let store = Arc::new(object_store::memory::InMemory::new());
    let target = Target::from_store(store.clone(), "", "mem")
        .unwrap()
        .with_lock_settle(std::time::Duration::from_millis(1));
    let lock = target
        .lock("vol", vmbackup_backupstore::LockKind::Deletion)
        .await
        .unwrap();
    use object_store::ObjectStoreExt;
    let bytes = store
        .get(&object_store::path::Path::from(lock.path()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let name = lock
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".lck");
    assert_eq!(
        String::from_utf8(bytes.to_vec()).unwrap(),
        s(&l["content_acquired_deletion"]).replace("lock-0123456789ab4def", name)
    );
    assert_eq!(&name[5 + 12..5 + 13], "4", "{name}");
    lock.release().await.unwrap();
}

#[test]
fn compression_headers() {
    let v = vectors();
    let c = &v["compression"];
    let gz = block::compress(Compression::Gzip, b"data");
    assert_eq!(hex::encode(&gz[..10]), s(&c["gzip_header_hex_go_writer"]));
    let lz = block::compress(Compression::Lz4, b"data");
    assert_eq!(
        hex::encode(&lz[..7]),
        s(&c["lz4_frame_header_hex_go_writer"])
    );
    assert_eq!(
        hex::encode(block::compress(Compression::Lz4, b"")),
        s(&c["lz4_empty_input_frame_hex_go_writer"])
    );
    assert_eq!(block::compress(Compression::None, b"data"), b"data");
}

#[test]
fn block_size_parameter() {
    let v = vectors();
    for case in v["block_size_parameter"].as_array().unwrap() {
        let cfg = BackupConfig {
            parameters: string_map(&case["parameters"]),
            ..Default::default()
        };
        match case["block_size"].as_u64() {
            Some(expected) => assert_eq!(cfg.block_size("b.cfg").unwrap(), expected, "{case}"),
            None => {
                let e = cfg.block_size("b.cfg").unwrap_err().to_string();
                assert!(
                    e.contains("b.cfg") && e.contains("backup-block-size"),
                    "{e}"
                );
            }
        }
    }
    assert_eq!(parse_quantity("16Mi"), Some(16 << 20));
}

#[test]
fn backing_image_and_system_backup_paths() {
    let v = vectors();
    let b = &v["backing_image_paths"];
    assert_eq!(layout::backing_image_cfg("parrot").unwrap(), s(&b["cfg"]));
    let zero = block::checksum(&vec![0u8; 2 << 20]);
    assert_eq!(layout::backing_image_block(&zero), s(&b["block_example"]));
    let sb = &v["system_backup"];
    assert_eq!(
        layout::system_backup_cfg("v1.4.0", "sample-system-backup").unwrap(),
        s(&sb["cfg"])
    );
    assert_eq!(
        layout::system_backup_zip("v1.4.0", "sample-system-backup").unwrap(),
        s(&sb["zip"])
    );
}

#[tokio::test]
async fn target_layouts() {
    let v = vectors();
    let rel = layout::volume_cfg("pvc-0123abcd-test").unwrap();
    for case in v["target_layouts"].as_array().unwrap() {
        let url = s(&case["target"]);
        match parse_target_url(url).unwrap() {
            TargetUrl::S3 {
                bucket,
                region,
                prefix,
            } => {
                assert_eq!(bucket, s(&case["bucket"]));
                if let Some(r) = region {
                    assert_eq!(r, s(&case["region"]));
                }
                let t = Target::from_store(
                    Arc::new(object_store::memory::InMemory::new()),
                    &prefix,
                    url,
                )
                .unwrap();
                assert_eq!(t.object_key(&rel), s(&case["volume_cfg_key"]), "{url}");
            }
            TargetUrl::Mounted { scheme, source } => {
                // The mount's root is the export or share; the file sits at the same relative path.
                if scheme == "nfs" {
                    assert_eq!(source, s(&case["server_export"]));
                    let export = source.split_once(':').unwrap().1;
                    assert_eq!(
                        format!("{export}/{rel}"),
                        s(&case["volume_cfg_path_on_server"])
                    );
                } else {
                    assert_eq!(source, s(&case["share"]));
                    assert_eq!(rel, s(&case["volume_cfg_path_in_share"]));
                }
            }
            TargetUrl::Azure {
                container,
                suffix,
                prefix,
            } => {
                assert_eq!(container, s(&case["container"]));
                assert_eq!(suffix.as_deref(), Some(s(&case["endpoint_suffix"])));
                let t = Target::from_store(
                    Arc::new(object_store::memory::InMemory::new()),
                    &prefix,
                    url,
                )
                .unwrap();
                assert_eq!(t.object_key(&rel), s(&case["volume_cfg_blob"]));
            }
            TargetUrl::Local { .. } => panic!("{url} is not local"),
        }
    }
}

#[test]
fn sizes() {
    let v = vectors();
    let z = &v["sizes"];
    let vol = VolumeConfig {
        block_count: 4,
        ..Default::default()
    };
    assert_eq!(
        vol.data_stored(),
        z["DataStored_for_BlockCount_4"].as_i64().unwrap()
    );
    assert_eq!(
        3 * (2 << 20),
        z["backup_Size_for_3_blocks_of_2MiB"].as_i64().unwrap()
    );
}
