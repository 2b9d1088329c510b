//! Go-compatible JSON output.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use std::collections::BTreeMap;
use std::io;

/// A serde_json formatter producing Go's escaping: `<`, `>`, `&`, U+2028 and
/// U+2029 become `\uXXXX`; other control characters use `\n`, `\r`, `\t`,
/// `\b`, `\f` or lowercase `\u00XX`. `/` is not escaped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            let esc = match ch {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W>(&mut self, writer: &mut W, char_escape: CharEscape) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let s: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                return writer.write_all(&buf);
            }
        };
        writer.write_all(s)
    }
}

/// Serialises any value compactly with Go's escaping (maps keep serde's
/// order; use `BTreeMap` for Go's sorted map keys).
pub(crate) fn to_go_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serialising plain data (strings, numbers, maps with string keys) into a
    // Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// A JSON string literal with Go's escaping, quotes included.
pub(crate) fn go_json_string(s: &str) -> String {
    String::from_utf8(to_go_json(s)).unwrap_or_default()
}

/// Writes one JSON object field by field, in the order of the calls (Go's
/// struct declaration order).
#[derive(Debug)]
pub(crate) struct ObjectWriter {
    out: Vec<u8>,
    first: bool,
}

impl ObjectWriter {
    pub(crate) fn new() -> Self {
        ObjectWriter {
            out: vec![b'{'],
            first: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(go_json_string(key).as_bytes());
        self.out.push(b':');
    }

    /// A plain string field.
    pub(crate) fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(go_json_string(value).as_bytes());
        self
    }

    /// An `int64` field tagged `,string`: the decimal number inside a string.
    pub(crate) fn int_string(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value.to_string().as_bytes());
        self.out.push(b'"');
        self
    }

    /// A `string` field tagged `,string`: the JSON literal of the value,
    /// stored again as a JSON string.
    pub(crate) fn double_encoded(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        let inner = go_json_string(value);
        self.out
            .extend_from_slice(go_json_string(&inner).as_bytes());
        self
    }

    /// A bare integer.
    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// A `map[string]string`: `null` when absent, keys sorted.
    pub(crate) fn map(&mut self, key: &str, value: Option<&BTreeMap<String, String>>) -> &mut Self {
        self.key(key);
        match value {
            None => self.out.extend_from_slice(b"null"),
            Some(m) => self.out.extend_from_slice(&to_go_json(m)),
        }
        self
    }

    /// Any already-encoded JSON value.
    pub(crate) fn raw(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(json);
        self
    }

    /// Like [`Self::raw`], the value written by `write` straight into the
    /// output: for a value too long to build apart first.
    pub(crate) fn raw_with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(key);
        write(&mut self.out);
        self
    }

    /// Closes the object (no trailing newline, as Go writes it).
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        assert_eq!(go_json_string("<&>"), r#""\u003c\u0026\u003e""#);
        assert_eq!(go_json_string("x\u{2028}y\"\\"), r#""x\u2028y\"\\""#);
        assert_eq!(go_json_string("\u{1}\n/"), r#""\u0001\n/""#);
        assert_eq!(go_json_string("é"), "\"é\"");
    }

    #[test]
    fn object_fields() {
        let mut w = ObjectWriter::new();
        w.string("A", "x")
            .int_string("B", 5)
            .double_encoded("C", "lz4");
        w.map("D", None).bool("E", true).int("F", -1);
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            r#"{"A":"x","B":"5","C":"\"lz4\"","D":null,"E":true,"F":-1}"#
        );
    }
}
