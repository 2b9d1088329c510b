//! Benchmark of `vmbackup target` on a local target, against floors
//! measured in the same run on the same machine:
//!
//! * `export` (raw) vs `cp` of the raw image (and of the same image with
//!   holes instead of zeros, and that copy flushed with `sync`), flushed
//!   (the default) and not (`--no-sync`, which like `cp` leaves the data
//!   in the page cache);
//! * `verify` vs `sha512sum` of the same uncompressed bytes;
//! * full `import` vs `lz4 -1 < image | sha512sum`;
//! * incremental `import` after changing 1% of the blocks vs the full import,
//!   and the time it takes just to read the image (two `dd` readers);
//! * peak memory (VmHWM) of export, verify and import.
//!
//! The image is 1 GiB: 30% incompressible data in 2 MiB extents, the rest
//! zeros (written; a copy with holes serves the sparse `cp` floor). Each
//! timing is the median of several runs with a warm page cache. Run with `scripts/bench-target` (or `cargo bench -p vmbackup --bench
//! target`); `VMBACKUP_BENCH_DIR` chooses the work directory,
//! `VMBACKUP_BENCH_RUNS` the number of runs, `VMBACKUP_BENCH_SIZE_MIB` the
//! image size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const BLOCK: u64 = 2 * MIB;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let size_mib: u64 = env_or("VMBACKUP_BENCH_SIZE_MIB", 1024);
    let runs: usize = env_or("VMBACKUP_BENCH_RUNS", 3);
    let dir = std::env::var_os("VMBACKUP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-target"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vmbackup"));
    for tool in ["cp", "sha512sum", "lz4", "sh", "sync", "dd"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success(),
            "{tool} is needed for the floors (scripts/bench-target installs lz4)"
        );
    }

    let load_before = load_average();
    let image = dir.join("image.raw");
    let sparse = dir.join("sparse.raw");
    let data_only = dir.join("data-only.raw");
    let blocks = build_images(&image, &sparse, &data_only, size_mib * MIB);
    eprintln!(
        "image: {} MiB, {} of {} blocks of 2 MiB hold random data ({} MiB), the rest zeros \
         (written in image.raw, holes in sparse.raw)",
        size_mib,
        blocks.len(),
        size_mib * MIB / BLOCK,
        blocks.len() as u64 * 2
    );
    let target = dir.join("target");
    let cache = dir.join("cache");
    let t = target.to_str().unwrap().to_owned();
    let img = image.to_str().unwrap().to_owned();
    let c = cache.to_str().unwrap().to_owned();

    // Floors.
    let copy = dir.join("copy.raw");
    let cp_of = |from: &Path| {
        median(runs, || {
            let _ = std::fs::remove_file(&copy);
            time(Command::new("cp").arg(from).arg(&copy)).0
        })
    };
    let cp = cp_of(&image);
    let cp_sparse = cp_of(&sparse);
    let sha = median(runs, || {
        time(
            Command::new("sha512sum")
                .arg(&data_only)
                .stdout(Stdio::null()),
        )
        .0
    });
    let lz4 = median(runs, || {
        time(
            Command::new("sh")
                .args(["-c", "lz4 -1 < \"$1\" | sha512sum"])
                .arg("sh")
                .arg(&image)
                .stdout(Stdio::null()),
        )
        .0
    });
    let cp_sync = median(runs, || {
        let _ = std::fs::remove_file(&copy);
        time(
            Command::new("sh")
                .args(["-c", "cp \"$1\" \"$2\" && sync \"$2\""])
                .arg("sh")
                .arg(&sparse)
                .arg(&copy),
        )
        .0
    });
    let _ = std::fs::remove_file(&copy);
    // What any import must do at least: read the whole image (two readers,
    // one per half, as the import reads with every core).
    let half = size_mib / 2;
    let read = median(runs, || {
        time(
            Command::new("sh")
                .args([
                    "-c",
                    "dd if=\"$1\" of=/dev/null bs=1M count=$2 status=none & \
                     dd if=\"$1\" of=/dev/null bs=1M skip=$2 status=none & wait",
                ])
                .arg("sh")
                .arg(&image)
                .arg(half.to_string()),
        )
        .0
    });

    // Imports of the written image with Longhorn's 2 s lock settle (the
    // default) and without (`--lock-settle 0s`, for targets no Longhorn
    // uses meanwhile): full, each run into a fresh target with an empty
    // fingerprint cache, then incremental after changing 1% of the blocks.
    let total_blocks = size_mib * MIB / BLOCK;
    let changes = (total_blocks / 100).max(1);
    let mut round = 0u64;
    let mut rss = Rss::default();
    let mut imports = Vec::new();
    for settle in ["0s", "2s"] {
        let args = [
            "import",
            "--target",
            &t,
            "--volume",
            "vol",
            "--from",
            &img,
            "--lock-settle",
            settle,
            "--cache-dir",
            &c,
        ];
        let full = median(runs, || {
            let _ = std::fs::remove_dir_all(&target);
            let _ = std::fs::remove_dir_all(&cache);
            std::fs::create_dir(&target).unwrap();
            let (d, kib) = time(&mut vmbackup(&bin, &args));
            rss.import = rss.import.max(kib);
            d
        });
        let incremental = median(runs, || {
            round += 1;
            change_blocks(&image, &blocks, changes, round);
            let (d, kib) = time(&mut vmbackup(&bin, &args));
            rss.incremental = rss.incremental.max(kib);
            d
        });
        imports.push((settle, full, incremental));
    }
    let backup = last_backup(&target);

    // Export of the last backup: the default (no lock, flushed), without
    // the flush (`--no-sync`) and holding Longhorn's volume lock
    // (`--lock`); verify without and with the lock.
    let out = dir.join("export.raw");
    let o = out.to_str().unwrap().to_owned();
    let mut exports = Vec::new();
    for extra in [None, Some("--no-sync"), Some("--lock")] {
        let mut args = vec![
            "export", "--target", &t, "--volume", "vol", "--backup", &backup, "--to", &o,
        ];
        args.extend(extra);
        let d = median(runs, || {
            let _ = std::fs::remove_file(&out);
            let (d, kib) = time(&mut vmbackup(&bin, &args));
            rss.export = rss.export.max(kib);
            d
        });
        assert_eq!(
            sha512_of(&out),
            sha512_of(&image),
            "the export differs from the image"
        );
        exports.push(d);
    }
    let _ = std::fs::remove_file(&out);
    let mut verifies = Vec::new();
    for extra in [None, Some("--lock")] {
        let mut args = vec!["verify", "--target", &t, "--volume", "vol"];
        args.extend(extra);
        verifies.push(median(runs, || {
            let (d, kib) = time(&mut vmbackup(&bin, &args));
            rss.verify = rss.verify.max(kib);
            d
        }));
    }

    // Memory does not follow the image size: a backup whose config lists
    // LONG_LIST blocks (as one of about 585 GiB of data at 2 MiB blocks
    // would; they all share one block file here, so that no such image has
    // to be written), verified and listed.
    let long = dir.join("long");
    std::fs::create_dir(&long).unwrap();
    long_block_list(&bin, &long, &dir.join("one-block.raw"));
    let l = long.to_str().unwrap().to_owned();
    let (_, long_verify) = time(&mut vmbackup(&bin, &["verify", "--target", &l]));
    let (_, long_ls) = time(
        Command::new(&bin)
            .args(["target", "ls", "--target", &l])
            .stdout(Stdio::null()),
    );
    let long_names = [
        format!("verify, {LONG_LIST} blocks listed"),
        format!("ls, {LONG_LIST} blocks listed"),
    ];

    let secs = |d: Duration| d.as_secs_f64();
    let (_, full0, incr0) = imports[0];
    let (_, full2, incr2) = imports[1];
    let rows = [
        ("export raw", secs(exports[0]), "cp", secs(cp), 1.5),
        (
            "export raw",
            secs(exports[0]),
            "cp of the sparse image",
            secs(cp_sparse),
            1.5,
        ),
        (
            "export raw",
            secs(exports[0]),
            "cp sparse + sync",
            secs(cp_sync),
            1.5,
        ),
        (
            "export raw --no-sync",
            secs(exports[1]),
            "cp",
            secs(cp),
            1.5,
        ),
        ("export raw --lock", secs(exports[2]), "cp", secs(cp), 1.5),
        (
            "verify",
            secs(verifies[0]),
            "sha512sum of the data",
            secs(sha),
            1.2,
        ),
        (
            "verify --lock",
            secs(verifies[1]),
            "sha512sum of the data",
            secs(sha),
            1.2,
        ),
        (
            "full import",
            secs(full2),
            "lz4 -1 | sha512sum",
            secs(lz4),
            1.5,
        ),
        (
            "full import --lock-settle 0s",
            secs(full0),
            "lz4 -1 | sha512sum",
            secs(lz4),
            1.5,
        ),
        (
            "incremental import (1% changed)",
            secs(incr2),
            "full import",
            secs(full2),
            0.10,
        ),
        (
            "incr. import --lock-settle 0s",
            secs(incr0),
            "full import, settle 0s",
            secs(full0),
            0.10,
        ),
    ];
    println!();
    println!(
        "{:<34} {:>7}  {:<24} {:>7}  {:>6}  {:>5}  met",
        "operation", "time s", "floor", "floor s", "ratio", "goal"
    );
    for (name, t, floor, f, goal) in rows {
        let ratio = t / f;
        println!(
            "{name:<34} {t:>7.3}  {floor:<24} {f:>7.3}  {ratio:>6.2}  {:>5}  {}",
            format!("≤{goal}"),
            if ratio <= goal { "yes" } else { "NO" }
        );
    }
    println!(
        "\nreading the image alone (two dd readers): {:.3} s = {:.2} of the full import, \
         {:.2} with settle 0s; the incremental import spends {:.3} s beyond it",
        secs(read),
        secs(read) / secs(full2),
        secs(read) / secs(full0),
        secs(incr0) - secs(read)
    );
    println!();
    println!(
        "{:<34} {:>7}  {:>5}  met",
        "peak memory (VmHWM)", "MiB", "goal"
    );
    for (name, kib) in [
        ("export", rss.export),
        ("verify", rss.verify),
        ("full import", rss.import),
        ("incremental import", rss.incremental),
        (long_names[0].as_str(), long_verify),
        (long_names[1].as_str(), long_ls),
    ] {
        let mib = kib as f64 / 1024.0;
        println!(
            "{name:<34} {mib:>7.1}  {:>5}  {}",
            "≤64",
            if mib <= 64.0 { "yes" } else { "NO" }
        );
    }
    println!(
        "\nmedian of {runs} runs; image {size_mib} MiB; load average before/after: {load_before} / {}",
        load_average()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Blocks listed by the backup of [`long_block_list`].
const LONG_LIST: u64 = 300_000;

/// Imports one block of random data into the target `dir`, then rewrites
/// the backup config to list it at LONG_LIST offsets (and the volume's
/// size to match).
fn long_block_list(bin: &Path, dir: &Path, image: &Path) {
    let mut data = vec![0u8; BLOCK as usize];
    Rng(0x10_4e).fill(&mut data);
    std::fs::write(image, &data).unwrap();
    let status = vmbackup(
        bin,
        &[
            "import",
            "--target",
            dir.to_str().unwrap(),
            "--volume",
            "long",
            "--from",
            image.to_str().unwrap(),
        ],
    )
    .status()
    .unwrap();
    assert!(status.success());
    let size = (LONG_LIST * BLOCK).to_string();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.ends_with(".cfg") {
                continue;
            }
            let mut cfg: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            cfg["Size"] = size.clone().into();
            cfg["Labels"]["vmbackup.io/image-size"] = size.clone().into();
            if name.starts_with("backup_") {
                let sum = cfg["Blocks"][0]["BlockChecksum"].clone();
                cfg["Blocks"] = (0..LONG_LIST)
                    .map(|i| serde_json::json!({"Offset": i * BLOCK, "BlockChecksum": sum}))
                    .collect();
            }
            std::fs::write(&p, serde_json::to_vec(&cfg).unwrap()).unwrap();
        }
    }
}

/// Peak resident memory per operation, KiB.
#[derive(Debug, Default)]
struct Rss {
    export: u64,
    verify: u64,
    import: u64,
    incremental: u64,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn vmbackup(bin: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("target")
        .args(args)
        .args(["--progress", "none"])
        .stdout(Stdio::null());
    c
}

/// Runs a command to completion; returns its wall time and its peak
/// resident memory in KiB (VmHWM, polled from /proc while it runs).
fn time(cmd: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed");
            return (start.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    v.sort();
    v[v.len() / 2]
}

/// A tiny deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// Writes the image (30% of its 2 MiB blocks random, the rest zeros, all
/// written), the same image with holes instead of zeros, and a file of just
/// its data; returns the indexes of the data blocks.
fn build_images(image: &Path, sparse: &Path, data_only: &Path, size: u64) -> Vec<u64> {
    let total = size / BLOCK;
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let mut chosen: Vec<u64> = (0..total).collect();
    for i in (1..chosen.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        chosen.swap(i, j);
    }
    chosen.truncate((total * 3 / 10) as usize);
    chosen.sort();
    let f = File::create(image).unwrap();
    let s = File::create(sparse).unwrap();
    s.set_len(size).unwrap();
    let d = File::create(data_only).unwrap();
    let zeros = vec![0u8; BLOCK as usize];
    let mut buf = vec![0u8; BLOCK as usize];
    let mut n = 0u64;
    for b in 0..total {
        if chosen.binary_search(&b).is_ok() {
            rng.fill(&mut buf);
            f.write_all_at(&buf, b * BLOCK).unwrap();
            s.write_all_at(&buf, b * BLOCK).unwrap();
            d.write_all_at(&buf, n * BLOCK).unwrap();
            n += 1;
        } else {
            f.write_all_at(&zeros, b * BLOCK).unwrap();
        }
    }
    for file in [&f, &s, &d] {
        file.sync_all().unwrap();
    }
    chosen
}

/// Changes `count` data blocks (4 KiB of new random bytes in each).
fn change_blocks(image: &Path, blocks: &[u64], count: u64, round: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(image).unwrap();
    let mut rng = Rng(0xc0ff_ee00 + round);
    let mut buf = vec![0u8; 4096];
    for _ in 0..count {
        let b = blocks[(rng.next() % blocks.len() as u64) as usize];
        rng.fill(&mut buf);
        f.write_all_at(&buf, b * BLOCK + (rng.next() % 500) * 4096)
            .unwrap();
    }
    f.sync_all().unwrap();
}

/// The volume's last backup, from its `volume.cfg`.
fn last_backup(target: &Path) -> String {
    let mut stack = vec![target.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "volume.cfg") {
                let cfg: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                return cfg["LastBackupName"].as_str().unwrap().to_owned();
            }
        }
    }
    panic!("no volume.cfg under {}", target.display());
}

/// The 1-minute load average (other work on the machine skews timings).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn sha512_of(path: &Path) -> String {
    let out = Command::new("sha512sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}
