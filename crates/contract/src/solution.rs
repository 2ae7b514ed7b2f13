//! Solution files: JSON `{"values": [numbers...]}`, optionally `"text"`.
//!
//! Other top-level keys are ignored (so a file may carry its score, provenance,
//! ...). `NaN`, `Infinity` and `-Infinity`, which Python's `json` module writes,
//! are accepted as numbers so that the verifier can reject them with a reason
//! instead of the file failing to parse.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::Solution;

/// Read and parse a solution file. Errors are one line and name the file.
pub fn read_solution_file(path: &Path) -> Result<Solution> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))?;
    parse_solution_json(&text).with_context(|| format!("{} is not a solution file", path.display()))
}

/// Parse the JSON text of a solution.
pub fn parse_solution_json(text: &str) -> Result<Solution> {
    let value: Value = serde_json::from_str(&quote_non_finite(text))
        .map_err(|e| anyhow::anyhow!("not valid JSON ({e})"))?;
    let Value::Object(map) = value else {
        bail!("expected a JSON object like {{\"values\": [...]}}");
    };
    let Some(values) = map.get("values") else {
        bail!("missing the \"values\" key (expected {{\"values\": [...]}})");
    };
    let Value::Array(items) = values else {
        bail!("\"values\" must be a list of numbers");
    };
    let values = items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| anyhow::anyhow!("values[{i}] is out of range")),
            Value::String(s) if s == "NaN" => Ok(f64::NAN),
            Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
            Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
            other => bail!("values[{i}] is {other}, not a number"),
        })
        .collect::<Result<Vec<f64>>>()?;
    let text = match map.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => bail!("\"text\" must be a string"),
    };
    Ok(Solution { values, text })
}

/// The JSON of a solution, as `discover verify` reads it back. Non-finite values
/// are written the way Python writes them.
pub fn solution_json(solution: &Solution) -> String {
    let values: Vec<String> = solution
        .values
        .iter()
        .map(|v| match v {
            v if v.is_nan() => "NaN".to_string(),
            v if v.is_infinite() => if *v > 0.0 { "Infinity" } else { "-Infinity" }.to_string(),
            // `{:?}` prints the shortest string that round-trips exactly.
            v => format!("{v:?}"),
        })
        .collect();
    let mut out = format!("{{\"values\": [{}]", values.join(", "));
    if let Some(text) = &solution.text {
        out.push_str(&format!(", \"text\": {}", Value::String(text.clone())));
    }
    out.push_str("}\n");
    out
}

/// Put quotes around the bare tokens `NaN`, `Infinity`, `-Infinity` outside strings.
fn quote_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if c == '\\' {
                let skip = rest.chars().take(2).map(char::len_utf8).sum::<usize>();
                out.push_str(&rest[..skip]);
                rest = &rest[skip..];
                continue;
            }
            in_string = c != '"';
        } else if c == '"' {
            in_string = true;
        } else {
            let token = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t));
            if let Some(token) = token {
                out.push('"');
                out.push_str(token);
                out.push('"');
                rest = &rest[token.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solutions_round_trip_bit_for_bit() {
        // Exact validity checks need the very doubles back: a parser that is off
        // by one ulp turned a touching circle into one 1.1e-16 outside the square.
        let mut x = 0x1234_5678_9abc_def0u64;
        let values: Vec<f64> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                f64::from_bits((x >> 12) | 0x3fe0_0000_0000_0000) - 0.5 + (x % 7) as f64 * 1e-17
            })
            .collect();
        let s = Solution::new(values);
        let back = parse_solution_json(&solution_json(&s)).unwrap();
        assert!(s.values.iter().zip(&back.values).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn parses_values_and_ignores_extra_keys() {
        let s = parse_solution_json(r#"{"values": [1, 2.5, -3e-2], "score": 9, "by": "me"}"#).unwrap();
        assert_eq!(s.values, vec![1.0, 2.5, -0.03]);
        assert_eq!(s.text, None);
    }

    #[test]
    fn accepts_python_non_finite_tokens_outside_strings() {
        let s = parse_solution_json(r#"{"values": [NaN, Infinity, -Infinity], "note": "NaN"}"#).unwrap();
        assert!(s.values[0].is_nan());
        assert_eq!(s.values[1..], [f64::INFINITY, f64::NEG_INFINITY]);
    }

    #[test]
    fn one_line_errors_for_bad_input() {
        for (text, expected) in [
            ("not json", "not valid JSON"),
            ("[1, 2]", "expected a JSON object"),
            (r#"{"vals": [1]}"#, "missing the \"values\" key"),
            (r#"{"values": 3}"#, "must be a list of numbers"),
            (r#"{"values": [1, "x"]}"#, "values[1] is \"x\", not a number"),
            (r#"{"values": [1, null]}"#, "values[1] is null, not a number"),
        ] {
            let err = parse_solution_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn writes_what_it_reads() {
        let s = Solution { values: vec![0.1, 1e-300, f64::NAN, 2.0], text: Some("a \"b\"".into()) };
        let back = parse_solution_json(&solution_json(&s)).unwrap();
        assert_eq!(back.values[..2], s.values[..2]);
        assert!(back.values[2].is_nan());
        assert_eq!(back.text, s.text);
    }
}
