//! `vmbackup handle check`: classify Longhorn CSI snapshot handles.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use vmbackup_api::handle::{HandleClass, SnapshotHandle, longhorn};

use crate::output::Format;

/// Subcommands of `vmbackup handle`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the class of each handle; exit 0 only if all are backup handles.
    ///
    /// Classes: `backup` (bak://<volume>/<backup>), `legacy-bs` (the deprecated
    /// bs:// form, which Longhorn 1.8 and later resolve only when its volume
    /// part is the Longhorn volume name), `snapshot` (snap://), `backing-image`
    /// (bi://backing?...) and `malformed`, with the reason.
    ///
    /// The class comes from the handle alone: whether a backup handle resolves
    /// depends on the cluster's BackupVolumes.
    ///
    /// Exit status: 0 when every handle is a backup handle, 1 otherwise,
    /// 2 on a usage error.
    #[command(after_help = "Examples:\n  \
        vmbackup handle check bak://pvc-5c31c54c-4315-46d9-a0b2-2a1113db8ce4/backup-854f6ced7b4942d4\n  \
        kubectl get volumesnapshotcontents \\\n    \
        -o jsonpath='{range .items[*]}{.status.snapshotHandle}{\"\\n\"}{end}' \\\n    \
        | vmbackup handle check --output json -")]
    Check(CheckArgs),
}

/// Arguments of `vmbackup handle check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Handles to classify, e.g. `bak://pvc-1234/backup-0123456789abcdef`;
    /// `-` reads more from standard input, one per line.
    #[arg(required = true, value_name = "HANDLE")]
    pub handles: Vec<OsString>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Exit code for a usage error, as clap uses.
const EXIT_USAGE: u8 = 2;

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let stdin_args = args.handles.iter().filter(|h| *h == "-").count();
    if stdin_args > 1 {
        eprintln!("error: `-` (read handles from standard input) may be given only once");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let mut handles: Vec<Vec<u8>> = Vec::new();
    for arg in &args.handles {
        if arg == "-" {
            let mut input = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut input)
                .context("reading handles from standard input")?;
            let before = handles.len();
            handles.extend(stdin_lines(&input));
            if handles.len() == before {
                eprintln!("error: no handles on standard input");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        } else {
            handles.push(arg.as_encoded_bytes().to_vec());
        }
    }

    let reports: Vec<Report> = handles.iter().map(|h| Report::of(h)).collect();
    let text = match args.output {
        Format::Table => render_table(&reports),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&reports)?;
            json.push('\n');
            json
        }
        Format::Yaml => crate::yaml::to_string(&reports)?,
    };
    let mut stdout = io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`| head`) is not worth a complaint.
        if err.kind() != io::ErrorKind::BrokenPipe {
            return Err(err).context("writing the report");
        }
    }

    let all_backups = reports.iter().all(|r| r.class == HandleClass::Backup);
    Ok(if all_backups {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

/// The handles in `input`: one per line, surrounding whitespace and blank
/// lines ignored.
fn stdin_lines(input: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    input
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
}

/// One handle's verdict, as printed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// The handle as given (invalid UTF-8 replaced).
    handle: String,
    class: HandleClass,
    /// Volume part of backup, legacy-bs and snapshot handles.
    volume: Option<String>,
    /// Backup name of backup and legacy-bs handles.
    backup: Option<String>,
    /// Snapshot name of snapshot handles.
    snapshot: Option<String>,
    /// Backing image name of backing-image handles.
    backing_image: Option<String>,
    /// Reason code of malformed handles.
    reason: Option<&'static str>,
    /// The reason in words.
    detail: Option<String>,
    /// What Longhorn's CSI driver itself reads from the handle.
    longhorn: LonghornView,
}

/// What Longhorn's CSI driver reads from a handle and does with it.
#[derive(Debug, Serialize)]
struct LonghornView {
    #[serde(rename = "type")]
    csi_type: String,
    volume: String,
    id: String,
    action: &'static str,
}

impl Report {
    fn of(raw: &[u8]) -> Report {
        let parsed = SnapshotHandle::parse_bytes(raw);
        let handle = String::from_utf8_lossy(raw).into_owned();
        let reading = longhorn::read(&handle);
        let longhorn = LonghornView {
            csi_type: reading.csi_type.to_owned(),
            volume: reading.volume.to_owned(),
            id: reading.id.to_owned(),
            action: reading.action().as_str(),
        };
        let mut report = Report {
            handle,
            class: HandleClass::Malformed,
            volume: None,
            backup: None,
            snapshot: None,
            backing_image: None,
            reason: None,
            detail: None,
            longhorn,
        };
        match parsed {
            Ok(parsed) => {
                report.class = parsed.class();
                report.volume = parsed.volume().map(str::to_owned);
                report.backup = parsed.backup().map(ToString::to_string);
                match &parsed {
                    SnapshotHandle::Snapshot { snapshot, .. } => {
                        report.snapshot = Some(snapshot.to_string());
                    }
                    SnapshotHandle::BackingImage(params) => {
                        report.backing_image = Some(params.backing_image().to_string());
                    }
                    SnapshotHandle::Backup(_) => {}
                }
            }
            Err(err) => {
                report.reason = Some(err.reason().code());
                report.detail = Some(err.reason().to_string());
            }
        }
        report
    }
}

/// A plain aligned table, one line per handle (CLASS, VOLUME, BACKUP, REASON
/// code when any handle is malformed, HANDLE), then the reasons in words and
/// a note on legacy handles when there are any.
fn render_table(reports: &[Report]) -> String {
    let with_reason = reports.iter().any(|r| r.reason.is_some());
    let dash = || "-".to_owned();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(reports.len() + 1);
    let mut header = vec!["CLASS", "VOLUME", "BACKUP"];
    if with_reason {
        header.push("REASON");
    }
    header.push("HANDLE");
    rows.push(header.into_iter().map(str::to_owned).collect());
    for r in reports {
        let mut row = vec![
            r.class.to_string(),
            r.volume.clone().unwrap_or_else(dash),
            r.backup.clone().unwrap_or_else(dash),
        ];
        if with_reason {
            row.push(r.reason.map_or_else(dash, str::to_owned));
        }
        row.push(shown(&r.handle));
        rows.push(row);
    }
    let mut out = align(&rows);

    let malformed: Vec<&Report> = reports.iter().filter(|r| r.detail.is_some()).collect();
    if !malformed.is_empty() {
        out.push_str("\nWhy malformed:\n");
        for r in malformed {
            let detail = r.detail.as_deref().unwrap_or_default();
            out.push_str(&format!("  {}\n    {detail}\n", shown(&r.handle)));
        }
    }
    if reports.iter().any(|r| r.class == HandleClass::LegacyBs) {
        out.push_str(
            "\nNote: Longhorn 1.8 and later resolve a legacy-bs handle only when its volume \
             part is the\nLonghorn volume name (the PV name, usually pvc-<uuid>), not a PVC name.\n",
        );
    }
    out
}

/// Rows padded into columns two spaces apart; the last column is not padded.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < columns {
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A handle as shown in the table: quoted and escaped when it is empty or has
/// whitespace or control characters, so every row stays one line and what is
/// odd about it is visible.
fn shown(handle: &str) -> String {
    if handle.is_empty() || handle.chars().any(|c| c.is_whitespace() || c.is_control()) {
        format!("{handle:?}")
    } else {
        handle.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_skip_blanks_and_trim() {
        let input = b"bak://v1/backup-1\r\n\n  bs://os-vol/backup-2  \nsnap://vol/s1";
        let lines: Vec<Vec<u8>> = stdin_lines(input).collect();
        assert_eq!(
            lines,
            [
                b"bak://v1/backup-1".to_vec(),
                b"bs://os-vol/backup-2".to_vec(),
                b"snap://vol/s1".to_vec()
            ]
        );
    }

    #[test]
    fn report_fields_per_class() {
        let r = Report::of(b"bs://os-vol/backup-b1");
        assert_eq!(r.class, HandleClass::LegacyBs);
        assert_eq!(r.volume.as_deref(), Some("os-vol"));
        assert_eq!(r.backup.as_deref(), Some("backup-b1"));
        assert_eq!(r.reason, None);
        assert_eq!(r.longhorn.csi_type, "bak");

        let r = Report::of(b"snap://vol/snap-1");
        assert_eq!(r.class, HandleClass::Snapshot);
        assert_eq!(r.snapshot.as_deref(), Some("snap-1"));
        assert_eq!(r.backup, None);

        let r = Report::of(b"bak://vol/backup-1/x");
        assert_eq!(r.class, HandleClass::Malformed);
        assert_eq!(r.reason, Some("extra-slash"));
        assert_eq!(r.volume, None);
        assert_eq!(r.longhorn.id, "backup-1");
        assert_eq!(r.longhorn.action, "restore-backup");

        let r = Report::of(b"bak://vol/\xff");
        assert_eq!(r.reason, Some("not-utf8"));
    }

    #[test]
    fn table_aligns_and_escapes() {
        let reports = [
            Report::of(b"bak://pvc-0123abcd-test/backup-854f6ced7b4942d4"),
            Report::of(b"bak://vol/backup 1"),
        ];
        let table = render_table(&reports);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "CLASS      VOLUME             BACKUP                   REASON          HANDLE"
        );
        assert_eq!(
            lines[1],
            "backup     pvc-0123abcd-test  backup-854f6ced7b4942d4  -               \
             bak://pvc-0123abcd-test/backup-854f6ced7b4942d4"
        );
        assert_eq!(
            lines[2],
            "malformed  -                  -                        bad-characters  \
             \"bak://vol/backup 1\""
        );
        assert_eq!(lines[3], "");
        assert_eq!(lines[4], "Why malformed:");
        assert_eq!(lines[5], "  \"bak://vol/backup 1\"");
        assert!(
            lines[6].starts_with("    the backup name \"backup 1\" has ' '"),
            "{table}"
        );
        assert_eq!(lines.len(), 7, "{table}");
    }

    #[test]
    fn table_without_problems_has_no_reason_column() {
        let reports = [Report::of(b"bak://vol/backup-1")];
        assert_eq!(
            render_table(&reports),
            "CLASS   VOLUME  BACKUP    HANDLE\nbackup  vol     backup-1  bak://vol/backup-1\n"
        );
        let reports = [Report::of(b"bs://os-vol/backup-1")];
        let table = render_table(&reports);
        assert!(table.contains("Note: Longhorn 1.8 and later"), "{table}");
    }
}
