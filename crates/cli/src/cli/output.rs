//! How the CLI prints specs and verdicts, for people and for machines.

use serde_json::{json, Map, Value};

use crate::plugin::PluginProblem;
use crate::problem::{Spec, Verdict};

/// A finite number as JSON, anything else as null.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
}

pub fn table(specs: &[(String, Spec)], as_json: bool) {
    if as_json {
        let rows: Vec<Value> = specs
            .iter()
            .map(|(world, s)| {
                json!({
                    "id": s.id,
                    "kind": world,
                    "title": s.title,
                    "direction": s.direction,
                    "best_known": s.best_known.as_ref().map(|b| number(b.value)),
                })
            })
            .collect();
        println!("{}", Value::Array(rows));
        return;
    }
    let best = |s: &Spec| s.best_known.as_ref().map_or("-".to_string(), |b| b.value.to_string());
    let w_id = specs.iter().map(|(_, s)| s.id.len()).max().unwrap_or(2).max(2);
    let w_best = specs.iter().map(|(_, s)| best(s).len()).max().unwrap_or(10).max(10);
    println!("{:<w_id$}  {:<12}  {:<9}  {:<w_best$}  TITLE", "ID", "KIND", "DIRECTION", "BEST KNOWN");
    for (world, s) in specs {
        println!("{:<w_id$}  {:<12}  {:<9}  {:<w_best$}  {}", s.id, world, s.direction.to_string(), best(s), s.title);
    }
}

pub fn show(spec: &Spec, as_json: bool) {
    if as_json {
        let mut value = serde_json::to_value(spec).expect("a spec serialises");
        value["python_contract"] = Value::String(crate::python::contract(spec));
        println!("{}", serde_json::to_string_pretty(&value).expect("a spec serialises"));
        return;
    }
    println!("{}: {}", spec.id, spec.title);
    println!("direction   {}", spec.direction);
    if let Some(b) = &spec.best_known {
        println!("best known  {} ({})", b.value, b.source);
    }
    println!("solution    {{\"values\": [...]}} with {}", spec.shape.describe());
    let b = &spec.budgets;
    println!(
        "budgets     evaluate: {} fuel, {} ms, {} MiB; candidate: {} s",
        b.evaluate_fuel, b.evaluate_millis, b.memory_mib, b.candidate_seconds
    );
    println!("\n{}", spec.statement.trim_end());
    println!("\nPython candidates (`discover exec`):\n{}", crate::python::contract(spec));
}

/// `discover problems show` for a plugin problem.
pub fn show_plugin(problem: &PluginProblem, as_json: bool) {
    let p = &problem.spec;
    if as_json {
        let mut value = serde_json::to_value(p).expect("a spec serialises");
        value["pack"] = Value::String(problem.pack.clone());
        println!("{}", serde_json::to_string_pretty(&value).expect("a spec serialises"));
        return;
    }
    let spec = &p.spec;
    println!("{}: {}", spec.id, spec.title);
    println!("kind        native plugin (pack {})", problem.pack);
    println!("direction   {}", spec.direction);
    if let Some(b) = &spec.best_known {
        println!("best known  {} ({})", b.value, b.source);
    }
    println!("solution    a {} program", p.language);
    println!("budgets     evaluate: {} ms; candidate: {} s", spec.budgets.evaluate_millis, spec.budgets.candidate_seconds);
    println!("\n{}", spec.statement.trim_end());
    if !p.environment.trim().is_empty() {
        println!("\nWhere candidates run:\n{}", p.environment.trim_end());
    }
    println!("\nCandidates (`discover exec {} PROGRAM --pack DIR`):\n{}", spec.id, p.contract.trim_end());
}

/// A verdict's metrics as `[{"name", "value"}]`, in the problem's order (run
/// directories' `best/verdict.json`, `exec --json` of plugin problems).
pub fn metrics_list(v: &Verdict) -> Value {
    Value::Array(v.metrics.iter().map(|(k, x)| json!({"name": k, "value": x})).collect())
}

pub fn verdict(spec: &Spec, v: &Verdict, as_json: bool) {
    if as_json {
        let metrics: Map<String, Value> = v.metrics.iter().map(|(k, x)| (k.clone(), number(*x))).collect();
        let out = json!({
            "problem": spec.id,
            "valid": v.valid,
            "score": v.score.map(number),
            "reason": v.reason,
            "metrics": metrics,
        });
        println!("{out}");
        return;
    }
    if !v.valid {
        println!("{}: invalid: {}", spec.id, v.reason.as_deref().unwrap_or("no reason given"));
        return;
    }
    println!("{}: valid", spec.id);
    let score = v.score.expect("a valid verdict has a score");
    let context = match &spec.best_known {
        Some(b) if spec.direction.better(score, b.value) => format!("  (best known {}: beaten)", b.value),
        Some(b) => format!("  (best known {}, {})", b.value, spec.direction),
        None => String::new(),
    };
    let width = v.metrics.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(5);
    println!("  {:<width$}  {score}{context}", "score");
    for (name, value) in &v.metrics {
        println!("  {name:<width$}  {value}");
    }
}
