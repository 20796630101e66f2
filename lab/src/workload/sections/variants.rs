//! What runs and what it is held to: the file's `variants` and the CLI's `--variants`
//! (registered names, each once) and `[[target]]`s (on a variant that runs).

use toml::Spanned;

use crate::backend;
use crate::workload::context::{closest, Ctx, WorkloadError};
use crate::workload::spec::TargetSpec;
use acorn_reports::targets::Target;

/// The engine variants a workload runs when it names none.
pub const DEFAULT_VARIANTS: [&str; 4] = ["plain", "cached", "pooled", "binary"];

/// `--variants`: trimmed names, each registered and listed once, with a suggestion for a
/// misspelt one (the file's `variants` gets the same checks).
pub fn variants_from_cli(list: &[String]) -> Result<Vec<String>, String> {
    let known: Vec<&str> = backend::registry().iter().map(|r| r.name).collect();
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let n = raw.trim();
        if n.is_empty() {
            return Err(format!(
                "--variants {:?}: an empty name (a stray comma?)",
                list.join(",")
            ));
        }
        check_name(n, &known, &out).map_err(|e| format!("--variants: {e}"))?;
        out.push(n.to_owned());
    }
    Ok(out)
}

/// `variants = [...]`: registered names, each once; the engine variants when absent.
pub(crate) fn variants_from_spec(
    cx: Ctx<'_>,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<Vec<String>, WorkloadError> {
    let known: Vec<&str> = backend::registry().iter().map(|r| r.name).collect();
    let Some(list) = list else {
        return Ok(DEFAULT_VARIANTS.iter().map(|s| (*s).to_owned()).collect());
    };
    if list.get_ref().is_empty() {
        return Err(cx.err(
            list.span(),
            "variants",
            format!("lists no variant; registered: {}", known.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for v in list.get_ref() {
        let n = v.get_ref();
        check_name(n, &known, &out).map_err(|e| cx.err(v.span(), "variants", e))?;
        out.push(n.clone());
    }
    Ok(out)
}

/// Why `n` cannot join `out`, if it cannot: it is not one of the `known` names (with the
/// closest as a suggestion), or it is already there.
fn check_name(n: &str, known: &[&str], out: &[String]) -> Result<(), String> {
    if !known.contains(&n) {
        let hint = closest(n, known.iter().copied())
            .map(|b| format!(" Did you mean `{b}`?"))
            .unwrap_or_default();
        return Err(format!(
            "unknown variant {n:?}.{hint} Registered: {}",
            known.join(", ")
        ));
    }
    if out.iter().any(|o| o == n) {
        return Err(format!("{n:?} is listed twice"));
    }
    Ok(())
}

/// `[[target]]`: parsed once into a typed metric and expectation; the variant must run.
pub(crate) fn target_from_spec(
    cx: Ctx<'_>,
    t: &TargetSpec,
    variants: &[String],
) -> Result<Target, WorkloadError> {
    let metric = acorn_reports::targets::Metric::parse(t.metric.get_ref())
        .map_err(|e| cx.err(t.metric.span(), "target.metric", e))?;
    let expect = acorn_reports::targets::Expect::parse(t.expect.get_ref())
        .map_err(|e| cx.err(t.expect.span(), "target.expect", e))?;
    expect
        .check_unit(&metric)
        .map_err(|e| cx.err(t.expect.span(), "target.expect", e))?;
    let variant = match &t.variant {
        None => variants[0].clone(),
        Some(v) if variants.contains(v.get_ref()) => v.get_ref().clone(),
        Some(v) => {
            return Err(cx.err(
                v.span(),
                "target.variant",
                format!(
                    "{:?} does not run in this workload; it runs {}",
                    v.get_ref(),
                    variants.join(", ")
                ),
            ));
        }
    };
    Ok(Target {
        name: t.name.get_ref().clone(),
        variant,
        metric,
        expect,
    })
}
