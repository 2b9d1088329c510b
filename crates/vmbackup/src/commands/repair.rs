//! `vmbackup repair`: the engine's handle repair for all VMBackups or the
//! selected ones, printed for review (`--dry-run`, the default) as YAML for
//! `kubectl apply`, or executed on a live cluster (`--apply`).

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::bail;
use chrono::Utc;
use serde::Serialize;
use vmbackup_engine::view::Key;
use vmbackup_engine::{Code, Finding, Kind, Options, RepairScope, Step, TargetFacts, View, plan};

use crate::commands::doctor::report::FindingRow;
use crate::commands::doctor::{emit, unreadable};
use crate::render;
use crate::source::target::{self, TargetArgs};
use crate::source::{self, SourceArgs, live};

/// Output of `vmbackup repair --dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    /// YAML for `kubectl apply -f`, reasons and commands as comments.
    #[default]
    Yaml,
    /// The steps and findings as JSON, for scripts.
    Json,
}

/// Arguments of `vmbackup repair`.
///
/// Plans the repair of VolumeSnapshotContents whose snapshot handle Longhorn
/// 1.8 and later cannot resolve (legacy `bs://<PVC name>/<backup>` handles
/// and other wrong volume names), for every VMBackup or the selected ones: a
/// new VolumeSnapshotContent with the handle `bak://<volume>/<backup>` and a
/// VolumeSnapshot bound to it, the VMBackup relinked to them, the old pair
/// set to Retain and deleted. No Longhorn backup and no backup data is
/// deleted.
///
/// The default, `--dry-run`, prints the plan as YAML for `kubectl apply -f`
/// (each step's reason as a comment; deletes as the kubectl commands to run
/// afterwards). `--apply` executes it on a live cluster; it refuses to act on
/// manifest files or a support bundle.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    vmbackup repair --bundle supportbundle.zip > repair.yaml\n  \
    vmbackup repair --from ./dump -n default vm1-backup > repair.yaml\n  \
    kubectl apply -f repair.yaml   # then the commands listed at its end")]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// VirtualMachineBackups to repair (default: all, or all in --namespace).
    #[arg(value_name = "VMBACKUP")]
    pub names: Vec<String>,
    /// Namespace of the named VMBackups (default `default`), or the only
    /// namespace whose VMBackups are repaired.
    #[arg(short = 'n', long, value_name = "NAMESPACE", value_parser = namespace_name)]
    pub namespace: Option<String>,
    /// Print the plan, change nothing (the default).
    #[arg(long, conflicts_with = "apply")]
    pub dry_run: bool,
    /// Execute the plan on the live cluster.
    #[arg(long)]
    pub apply: bool,
    /// Format of the dry run.
    #[arg(long, value_enum, default_value_t = PlanFormat::Yaml)]
    pub output: PlanFormat,
}

/// Codes of findings about snapshot handles, shown with the plan.
const HANDLE_CODES: &[Code] = &[
    Code::LegacyHandle,
    Code::UnresolvableHandle,
    Code::MalformedHandle,
    Code::AmbiguousBackupVolume,
    Code::MissingLonghornBackup,
    Code::DeprecatedHandlePrefix,
];

/// Plans (and with `--apply` executes) the repair.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.apply && !args.source.is_live() {
        bail!(
            "--apply changes a live cluster, and the input is {}: nothing was changed. Review the plan with --dry-run and apply it with kubectl, or run vmbackup against the cluster (--kubeconfig/--context)",
            if args.source.bundle.is_some() {
                "a support bundle"
            } else {
                "manifest files"
            }
        );
    }
    let loaded = match source::load(&args.source) {
        Ok(l) => l,
        Err(e) => return unreadable(&e),
    };
    let (facts, _) = match target::read(&args.target, &loaded.view) {
        Ok(x) => x,
        Err(e) => return unreadable(&e),
    };
    let selected = select(&loaded.view, &args.names, args.namespace.as_deref())?;
    let (steps, findings) = repair_plan(&loaded.view, &facts, &selected);
    if args.apply {
        return Ok(live::apply(
            &args.source.live(),
            &args.target,
            &steps,
            |view| repair_plan(view, &facts, &selected).0,
        )?);
    }
    let text = match args.output {
        PlanFormat::Yaml => {
            let mut header = vec![format!(
                "vmbackup repair plan for {} VirtualMachineBackup(s), read from {}.",
                selected.len(),
                loaded.origin
            )];
            if !findings.is_empty() {
                header.push("Snapshot handles:".into());
                for f in &findings {
                    header.push(format!(
                        "  {} [{}] {}: {}",
                        f.severity, f.code, f.object, f.message
                    ));
                    header.push(format!("    fix: {}", f.fix));
                }
            }
            render::kubectl_yaml(&steps, &header)?
        }
        PlanFormat::Json => {
            #[derive(Serialize)]
            struct Out<'a> {
                steps: &'a [Step],
                findings: Vec<FindingRow>,
            }
            let mut json = serde_json::to_string_pretty(&Out {
                steps: &steps,
                findings: findings.iter().map(FindingRow::from).collect(),
            })?;
            json.push('\n');
            json
        }
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// A `--namespace` value: a namespace name (a DNS-1123 label).
fn namespace_name(value: &str) -> Result<String, String> {
    vmbackup_engine::naming::check_namespace_name(value).map(|()| value.to_owned())
}

/// The VMBackups a repair covers.
pub fn select(
    view: &View,
    names: &[String],
    namespace: Option<&str>,
) -> anyhow::Result<BTreeSet<Key>> {
    if names.is_empty() {
        return Ok(view
            .vmbackups()
            .keys()
            .filter(|(ns, _)| namespace.is_none_or(|n| n == *ns))
            .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
            .collect());
    }
    let ns = namespace.unwrap_or("default");
    let mut keys = BTreeSet::new();
    for name in names {
        let key = (ns.to_owned(), name.clone());
        if !view.vmbackups().contains(&key.0, &key.1) {
            bail!("VirtualMachineBackup {ns}/{name} is not in the input");
        }
        keys.insert(key);
    }
    Ok(keys)
}

/// The steps the repair of `selected` adds to what the cluster's own
/// reconciliation would do anyway, and the findings about snapshot handles.
///
/// Both plans are made without VirtualMachineRestores, so that only the
/// repair asked for is planned (restores in progress get theirs from the
/// controller); steps both plans share are not the repair's.
pub fn repair_plan(
    view: &View,
    facts: &TargetFacts,
    selected: &BTreeSet<Key>,
) -> (Vec<Step>, Vec<Finding>) {
    let without_restores = view.with_objects(
        view.objects()
            .into_iter()
            .filter(|o| o.kind() != Kind::VirtualMachineRestore),
    );
    let now = Utc::now();
    let options = |scope: BTreeSet<Key>| Options {
        repair: RepairScope::Only(scope),
        ..Options::default()
    };
    let base = plan(&without_restores, facts, now, &options(BTreeSet::new()));
    let with = plan(&without_restores, facts, now, &options(selected.clone()));
    let steps = with
        .steps
        .into_iter()
        .filter(|s| !base.steps.contains(s))
        .collect();
    let findings = with
        .findings
        .into_iter()
        .filter(|f| HANDLE_CODES.contains(&f.code))
        .collect();
    (steps, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vmbackup_engine::Object;

    fn vmb(ns: &str, name: &str) -> Object {
        Object::from_value(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm"}}}))
        .unwrap()
    }

    #[test]
    fn a_namespace_option_must_be_a_namespace_name() {
        assert_eq!(namespace_name("team-a").unwrap(), "team-a");
        for bad in ["../x", "", "Default", "a.b", &"a".repeat(64)] {
            assert!(namespace_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selection_by_namespace_and_name() {
        let view = View::from_objects([vmb("a", "x"), vmb("b", "x"), vmb("b", "y")]);
        assert_eq!(select(&view, &[], None).unwrap().len(), 3);
        assert_eq!(select(&view, &[], Some("b")).unwrap().len(), 2);
        let one = select(&view, &["y".into()], Some("b")).unwrap();
        assert_eq!(
            one.into_iter().collect::<Vec<_>>(),
            [("b".to_owned(), "y".to_owned())]
        );
        let err = select(&view, &["x".into()], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "VirtualMachineBackup default/x is not in the input"
        );
    }

    #[test]
    fn nothing_selected_plans_nothing() {
        let view = View::from_objects([vmb("a", "x")]);
        let (steps, _) = repair_plan(&view, &TargetFacts::not_read(""), &BTreeSet::new());
        assert!(steps.is_empty(), "{steps:#?}");
    }
}
