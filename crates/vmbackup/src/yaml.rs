//! YAML output that every YAML reader takes as it was meant, including the
//! YAML 1.1 readers of kubectl and PyYAML.
//!
//! A YAML 1.2 writer leaves a string such as `yes`, `on`, `n` or `0777`
//! unquoted, since YAML 1.2 reads it back as a string; a YAML 1.1 reader
//! (kubectl's, for one) reads `yes` as `true` and `0777` as a number, and an
//! annotation `pv.kubernetes.io/bind-completed: yes` stops being a string.
//! Here a string is written bare only when it is plainly text to every
//! reader: otherwise it is double-quoted with JSON's escapes, which YAML's
//! double-quoted scalars share.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

/// `value` as a YAML document (block style, two-space indent, keys in the
/// order the value holds them).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    match &value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    Ok(out)
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n("  ", level));
}

/// Writes a map's entries at `level`; when `inline`, the first key goes on
/// the current line (a map that is a list item, after its `- `).
fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, level);
        }
        out.push_str(&string(key));
        out.push(':');
        write_value(out, value, level + 1);
    }
}

fn write_list(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                write_map(out, map, level + 1, true);
            }
            other => write_value(out, other, level + 1),
        }
    }
}

/// Writes what follows a `key:` or a `-`, nesting at `level`.
fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level, false);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, level);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A number as both YAML 1.1 and 1.2 read it: integers as they are, and a
/// float with a `.` in its mantissa and a sign in its exponent (YAML 1.1
/// reads `1e+300` or `1.0e300` as strings).
fn number(n: &serde_json::Number) -> String {
    let text = n.to_string();
    if n.is_i64() || n.is_u64() {
        return text;
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (text.as_str(), None),
    };
    let mut out = mantissa.to_owned();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(e) = exponent {
        out.push('e');
        if !e.starts_with(['+', '-']) {
            out.push('+');
        }
        out.push_str(e);
    }
    out
}

/// A string, bare when that is safe, else double-quoted.
fn string(s: &str) -> String {
    if is_plain_text(s) {
        return s.to_owned();
    }
    let mut quoted = String::with_capacity(s.len() + 2);
    // JSON's escapes are YAML's double-quoted escapes. JSON leaves some
    // characters bare that YAML does not allow in a stream (DEL, the C1
    // controls, U+FFFE and U+FFFF) or that readers may take for line
    // breaks (U+0085, U+2028, U+2029) or a byte order mark: those are
    // escaped too.
    for c in serde_json::to_string(s).unwrap_or_default().chars() {
        if needs_escape(c) {
            let _ = write!(quoted, "\\u{:04x}", u32::from(c));
        } else {
            quoted.push(c);
        }
    }
    quoted
}

/// Characters outside YAML's printable set, or that YAML readers may treat
/// as line breaks or a byte order mark.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// Words YAML 1.1 reads as booleans or null, in every spelling it accepts.
const SPECIAL_WORDS: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf",
];

/// Whether `s` reads back as this very string in YAML 1.1 and 1.2 when
/// written bare: it starts with a letter (so it is no number, date or
/// sexagesimal number), holds only letters, digits and `-_./@:` with no `:`
/// at its end (so it is no mapping key), and is not one of YAML 1.1's
/// special words. `bak://volume/backup` stays bare.
fn is_plain_text(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_ascii_alphabetic() {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@' | ':'))
        || s.ends_with(':')
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !SPECIAL_WORDS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn words_yaml_1_1_reads_as_other_types_are_quoted() {
        let value = json!({"metadata": {"annotations": {
            "pv.kubernetes.io/bind-completed": "yes",
            "a": "No", "b": "ON", "c": "y", "d": "0777", "e": "1e3", "f": "~",
            "g": "2025-01-01", "h": "1:20", "i": "", "j": "plain-text_1.2/x", "u": "bak://pvc-1/backup-2", "v": "a:",
            "k": ".inf", "l": "null", "m": "True"}}});
        let text = to_string(&value).unwrap();
        assert!(
            text.contains("pv.kubernetes.io/bind-completed: \"yes\""),
            "{text}"
        );
        assert!(text.contains("j: plain-text_1.2/x"), "{text}");
        assert!(text.contains("u: bak://pvc-1/backup-2\n"), "{text}");
        assert!(text.contains("v: \"a:\"\n"), "{text}");
        for quoted in [
            "\"No\"",
            "\"ON\"",
            "\"y\"",
            "\"0777\"",
            "\"1e3\"",
            "\"~\"",
            "\"2025-01-01\"",
            "\"1:20\"",
            "\"\"",
            "\".inf\"",
            "\"null\"",
            "\"True\"",
        ] {
            assert!(text.contains(quoted), "{quoted} in {text}");
        }
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn characters_yaml_does_not_allow_bare_are_escaped() {
        let value = json!({"a": "del\u{7f}x", "b": "c1\u{9b}x", "c": "\u{fffe}\u{ffff}\u{feff}",
            "d": "nel\u{85}ls\u{2028}ps\u{2029}"});
        let text = to_string(&value).unwrap();
        for escaped in [
            "\\u007f", "\\u009b", "\\ufffe", "\\uffff", "\\ufeff", "\\u0085", "\\u2028", "\\u2029",
        ] {
            assert!(text.contains(escaped), "{escaped} in {text}");
        }
        assert!(text.chars().all(|c| !needs_escape(c)), "{text}");
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn floats_carry_a_dot_and_a_signed_exponent() {
        let value = json!({"a": 1e300, "b": 1e-7, "c": 1.5, "d": -2.0, "e": 7, "f": u64::MAX});
        let text = to_string(&value).unwrap();
        for line in [
            "a: 1.0e+300\n",
            "b: 1.0e-7\n",
            "c: 1.5\n",
            "d: -2.0\n",
            "e: 7\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn nested_lists_and_maps_read_back() {
        let value = json!({
            "apiVersion": "v1",
            "list": [1, "two", {"a": [true, null], "b": {}}, [], [[3], {"c": "d"}]],
            "empty": {}, "none": [],
            "multi": "line one\nline two", "tab": "a\tb", "quote": "say \"hi\": #x"});
        let text = to_string(&value).unwrap();
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
            "[a-zA-Z0-9 ._/:#-]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z0-9:./ -]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_reads_back_as_itself(value in arb_json()) {
            let text = to_string(&value).unwrap();
            let back: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, value, "{}", text);
        }
    }
}
