//! Reading JSON the way Go's `encoding/json` decoder does for the structs
//! Longhorn uses: only the first JSON value is read, keys match their field
//! case-insensitively, unknown keys are ignored, and duplicate keys are applied
//! in document order (so the last one wins; `null` leaves scalars untouched
//! and resets maps and lists).

use crate::error::{Error, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A decoded JSON object ready for field-by-field extraction.
#[derive(Debug)]
pub(crate) struct Fields {
    path: String,
    prefix: String,
    entries: Vec<(String, Value)>,
}

/// Parses the first JSON value of `bytes`, which must be an object (or
/// `null`, which Go reads as "all fields zero"). Trailing bytes are ignored
/// as Go's decoder ignores them; invalid UTF-8 is replaced by U+FFFD as Go
/// does.
pub(crate) fn parse_object(bytes: &[u8], path: &str) -> Result<Fields> {
    parse_fields(bytes, path, None, &mut |_, _| Ok(())).map(|(fields, _)| fields)
}

/// Like [`parse_object`], except that the arrays under the key `list`
/// (matched as field names are) are not kept as they are read: each element
/// is handed to `each` with its index, as the fields of `list[i]`, one at a
/// time, and only what `each` returns is kept. So a list of many small
/// objects costs what its results cost, not what a tree of JSON values
/// would. As Go does, every occurrence of the key replaces the list before
/// it and `null` empties it; the fields returned hold no entry for `list`.
pub(crate) fn parse_object_with_list<T>(
    bytes: &[u8],
    path: &str,
    list: &str,
    each: &mut dyn FnMut(usize, Fields) -> Result<T>,
) -> Result<(Fields, Vec<T>)> {
    parse_fields(bytes, path, Some(list), each)
}

/// [`parse_object`] and [`parse_object_with_list`]: `list`, when given,
/// is the key whose arrays go to `each`.
fn parse_fields<T>(
    bytes: &[u8],
    path: &str,
    list: Option<&str>,
    each: &mut dyn FnMut(usize, Fields) -> Result<T>,
) -> Result<(Fields, Vec<T>)> {
    let text = String::from_utf8_lossy(bytes);
    let mut ctx = ListContext {
        path,
        list,
        each,
        items: Vec::new(),
        failure: None,
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed = serde::de::DeserializeSeed::deserialize(TopSeed { ctx: &mut ctx }, &mut de);
    if let Some(e) = ctx.failure {
        return Err(e);
    }
    match parsed {
        Ok(entries) => Ok((
            Fields {
                path: path.to_owned(),
                prefix: String::new(),
                entries: entries.unwrap_or_default(),
            },
            ctx.items,
        )),
        Err(e) if e.is_eof() && text.trim().is_empty() => Err(Error::Json {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        }),
        Err(e) => Err(Error::Json {
            path: path.to_owned(),
            reason: describe_serde_error(&e),
        }),
    }
}

/// What the streamed list collects, and the first error of `each` (which
/// serde can only carry as text, so it is kept here whole).
struct ListContext<'a, T> {
    path: &'a str,
    list: Option<&'a str>,
    each: &'a mut dyn FnMut(usize, Fields) -> Result<T>,
    items: Vec<T>,
    failure: Option<Error>,
}

impl<T> ListContext<'_, T> {
    fn fail<E: serde::de::Error>(&mut self, e: Error) -> E {
        let text = e.to_string();
        self.failure = Some(e);
        E::custom(text)
    }
}

struct TopSeed<'c, 'a, T> {
    ctx: &'c mut ListContext<'a, T>,
}

impl<'de, T> serde::de::DeserializeSeed<'de> for TopSeed<'_, '_, T> {
    type Value = Option<Vec<(String, Value)>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T> Visitor<'de> for TopSeed<'_, '_, T> {
    type Value = Option<Vec<(String, Value)>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if let Some(name) = self.ctx.list.filter(|l| fold_eq(&key, l)) {
                map.next_value_seed(ListSeed {
                    ctx: &mut *self.ctx,
                    name,
                })?;
            } else {
                entries.push((key, map.next_value::<Value>()?));
            }
        }
        Ok(Some(entries))
    }
}

struct ListSeed<'c, 'a, T> {
    ctx: &'c mut ListContext<'a, T>,
    /// The key as the list is named in errors.
    name: &'a str,
}

impl<'de, T> serde::de::DeserializeSeed<'de> for ListSeed<'_, '_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<T> ListSeed<'_, '_, T> {
    fn wrong<E: serde::de::Error>(self, found: &str) -> std::result::Result<(), E> {
        let e = Error::field(
            self.ctx.path,
            self.name,
            format!("expected an array, found {found}"),
        );
        Err(self.ctx.fail(e))
    }
}

impl<'de, T> Visitor<'de> for ListSeed<'_, '_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        self.ctx.items.clear();
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        self.ctx.items.clear();
        let parent = Fields {
            path: self.ctx.path.to_owned(),
            prefix: String::new(),
            entries: Vec::new(),
        };
        let mut i = 0usize;
        while let Some(item) = seq.next_element::<Value>()? {
            let field = format!("{}[{i}]", self.name);
            let fields = match parent.nested(&field, &item) {
                Ok(found) => found.unwrap_or_else(|| parent.empty(&field)),
                Err(e) => return Err(self.ctx.fail(e)),
            };
            match (self.ctx.each)(i, fields) {
                Ok(t) => self.ctx.items.push(t),
                Err(e) => return Err(self.ctx.fail(e)),
            }
            i += 1;
        }
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<(), E> {
        self.wrong("a boolean")
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<(), E> {
        self.wrong("a number")
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<(), E> {
        self.wrong("a number")
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<(), E> {
        self.wrong("a number")
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<(), E> {
        self.wrong("a string")
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> std::result::Result<(), A::Error> {
        self.wrong("an object")
    }
}

fn describe_serde_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        format!(
            "unexpected end of file (line {}, column {})",
            e.line(),
            e.column()
        )
    } else {
        e.to_string()
    }
}

/// Go's case folding for field names: ASCII case-insensitive, plus the two
/// non-ASCII letters that fold to ASCII (KELVIN SIGN and LONG S).
fn fold_eq(key: &str, name: &str) -> bool {
    let mut k = key.chars();
    let mut n = name.chars();
    loop {
        match (k.next(), n.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let a = match a {
                    '\u{212A}' => 'k',
                    '\u{017F}' => 's',
                    a => a.to_ascii_lowercase(),
                };
                if a != b.to_ascii_lowercase() {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Fields {
    fn err(&self, name: &str, reason: impl Into<String>) -> Error {
        Error::field(&self.path, format!("{}{name}", self.prefix), reason)
    }

    fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| fold_eq(k, name))
            .map(|(_, v)| v)
    }

    /// A plain `string` field; absent or `null` gives "".
    pub(crate) fn string(&self, name: &str) -> Result<String> {
        let mut out = String::new();
        for v in self.matching(name) {
            match v {
                Value::Null => {}
                Value::String(s) => out.clone_from(s),
                other => {
                    return Err(self.err(name, format!("expected a string, found {}", kind(other))));
                }
            }
        }
        Ok(out)
    }

    /// A bare `int64` (JSON number without fraction or exponent).
    pub(crate) fn int(&self, name: &str) -> Result<i64> {
        let mut out = 0;
        for v in self.matching(name) {
            match v {
                Value::Null => {}
                Value::Number(n) => {
                    out = n.as_i64().ok_or_else(|| {
                        self.err(name, format!("{n} is not an integer in the int64 range"))
                    })?;
                }
                other => {
                    return Err(self.err(name, format!("expected a number, found {}", kind(other))));
                }
            }
        }
        Ok(out)
    }

    /// A `bool`.
    pub(crate) fn bool(&self, name: &str) -> Result<bool> {
        let mut out = false;
        for v in self.matching(name) {
            match v {
                Value::Null => {}
                Value::Bool(b) => out = *b,
                other => {
                    return Err(self.err(
                        name,
                        format!("expected true or false, found {}", kind(other)),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// An `int64` tagged `,string`: a decimal integer inside a JSON string.
    pub(crate) fn int_string(&self, name: &str) -> Result<i64> {
        let mut out = 0;
        for v in self.matching(name) {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    out = parse_go_int(s).ok_or_else(|| {
                        let digits = s.strip_prefix('-').unwrap_or(s);
                        let reason =
                            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                                format!(
                                    "{s:?} overflows a 64-bit signed integer (Go int64: {} to {})",
                                    i64::MIN,
                                    i64::MAX
                                )
                            } else {
                                format!("{s:?} is not a quoted decimal integer (Go ,string int64)")
                            };
                        self.err(name, reason)
                    })?
                }
                other => {
                    return Err(self.err(
                        name,
                        format!(
                            "expected a decimal integer in a string (Go ,string int64), found {}",
                            kind(other)
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A `string` tagged `,string`: a JSON string whose content is itself a
    /// complete JSON string literal (`"\"lz4\""`). A plain `"lz4"` is rejected,
    /// as Go rejects it; an inner `null` leaves the field empty.
    pub(crate) fn double_encoded(&self, name: &str) -> Result<String> {
        let mut out = String::new();
        for v in self.matching(name) {
            match v {
                Value::Null => {}
                Value::String(s) if s == "null" => {}
                Value::String(s) => {
                    let inner = s.as_bytes();
                    let literal =
                        inner.len() >= 2 && inner[0] == b'"' && inner[inner.len() - 1] == b'"';
                    match serde_json::from_str::<String>(s) {
                        Ok(decoded) if literal => out = decoded,
                        _ => {
                            return Err(self.err(
                                name,
                                format!(
                                    "{s:?} is not a double-encoded string (Go ,string tag: expected a JSON string literal inside the string, e.g. \"\\\"lz4\\\"\")"
                                ),
                            ));
                        }
                    }
                }
                other => {
                    return Err(self.err(
                        name,
                        format!(
                            "expected a double-encoded string (Go ,string tag), found {}",
                            kind(other)
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A `map[string]string`; `null` gives `None`, repeated keys merge.
    pub(crate) fn string_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let mut out: Option<BTreeMap<String, String>> = None;
        for v in self.matching(name) {
            match v {
                Value::Null => out = None,
                Value::Object(m) => {
                    let map = out.get_or_insert_with(BTreeMap::new);
                    for (k, v) in m {
                        match v {
                            Value::String(s) => {
                                map.insert(k.clone(), s.clone());
                            }
                            Value::Null => {
                                map.insert(k.clone(), String::new());
                            }
                            other => {
                                return Err(self.err(
                                    &format!("{name}[{k:?}]"),
                                    format!("expected a string, found {}", kind(other)),
                                ));
                            }
                        }
                    }
                }
                other => {
                    return Err(
                        self.err(name, format!("expected an object, found {}", kind(other)))
                    );
                }
            }
        }
        Ok(out)
    }

    /// A nested struct; `None` when absent or `null`.
    pub(crate) fn object(&self, name: &str) -> Result<Option<Fields>> {
        let mut out = None;
        for v in self.matching(name) {
            out = self.nested(name, v)?;
        }
        Ok(out)
    }

    fn empty(&self, field: &str) -> Fields {
        Fields {
            path: self.path.clone(),
            prefix: format!("{}{field}.", self.prefix),
            entries: Vec::new(),
        }
    }

    fn nested(&self, field: &str, v: &Value) -> Result<Option<Fields>> {
        match v {
            Value::Null => Ok(None),
            Value::Object(m) => Ok(Some(Fields {
                path: self.path.clone(),
                prefix: format!("{}{field}.", self.prefix),
                entries: m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            })),
            other => Err(self.err(field, format!("expected an object, found {}", kind(other)))),
        }
    }

    /// Entries whose key matches none of `known`, in document order.
    pub(crate) fn unknown(&self, known: &[&str]) -> Vec<(String, Value)> {
        self.entries
            .iter()
            .filter(|(k, _)| !known.iter().any(|n| fold_eq(k, n)))
            .cloned()
            .collect()
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)` as used by the `,string` tag: an
/// optional minus sign and decimal digits, nothing else.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        parse_object(json.as_bytes(), "f.cfg").unwrap()
    }

    #[test]
    fn an_int64_that_overflows_says_so() {
        let f = fields(r#"{"Size":"99999999999999999999999"}"#);
        let e = f.int_string("Size").unwrap_err().to_string();
        assert!(e.contains("overflows a 64-bit signed integer"), "{e}");
        let f = fields(r#"{"Size":"12x"}"#);
        let e = f.int_string("Size").unwrap_err().to_string();
        assert!(e.contains("is not a quoted decimal integer"), "{e}");
        let f = fields(r#"{"Size":"-9223372036854775808"}"#);
        assert_eq!(f.int_string("Size").unwrap(), i64::MIN);
    }

    #[test]
    fn case_insensitive_last_wins() {
        let f = fields(r#"{"name":"a","NAME":"b","Other":1}"#);
        assert_eq!(f.string("Name").unwrap(), "b");
        let f = fields(r#"{"Name":"a","Name":null}"#);
        assert_eq!(f.string("Name").unwrap(), "a");
        assert_eq!(f.unknown(&["Name"]).len(), 0);
        let (_, list) = offsets("{\"BLOC\u{212A}S\":[{\"Offset\":6}]}").unwrap();
        assert_eq!(list, vec![6]);
    }

    #[test]
    fn first_value_only() {
        let f = fields(r#"{"Name":"a"} trailing garbage"#);
        assert_eq!(f.string("Name").unwrap(), "a");
        assert!(parse_object(b"", "x").is_err());
        assert!(parse_object(br#"{"Name":"a""#, "x").is_err());
        assert!(parse_object(b"[1]", "x").is_err());
        assert_eq!(
            parse_object(b"null", "x").unwrap().string("Name").unwrap(),
            ""
        );
    }

    #[test]
    fn string_tag_int() {
        assert_eq!(fields(r#"{"Size":"42"}"#).int_string("Size").unwrap(), 42);
        assert_eq!(fields(r#"{"Size":"-1"}"#).int_string("Size").unwrap(), -1);
        assert_eq!(fields(r#"{"Size":null}"#).int_string("Size").unwrap(), 0);
        for bad in [
            r#"{"Size":42}"#,
            r#"{"Size":""}"#,
            r#"{"Size":"1e3"}"#,
            r#"{"Size":" 1"}"#,
            r#"{"Size":"+1"}"#,
            r#"{"Size":"99999999999999999999"}"#,
        ] {
            let e = fields(bad).int_string("Size").unwrap_err();
            assert!(
                matches!(&e, Error::Field { field, path, .. } if field == "Size" && path == "f.cfg"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn string_tag_string() {
        assert_eq!(
            fields(r#"{"C":"\"lz4\""}"#).double_encoded("C").unwrap(),
            "lz4"
        );
        assert_eq!(fields(r#"{"C":"\"\""}"#).double_encoded("C").unwrap(), "");
        assert_eq!(fields(r#"{"C":"null"}"#).double_encoded("C").unwrap(), "");
        assert_eq!(fields(r#"{"C":null}"#).double_encoded("C").unwrap(), "");
        assert_eq!(
            fields(r#"{"C":"\"img\\u003c1\\u003e\""}"#)
                .double_encoded("C")
                .unwrap(),
            "img<1>"
        );
        for bad in [
            r#"{"C":"lz4"}"#,
            r#"{"C":""}"#,
            r#"{"C":" \"x\""}"#,
            r#"{"C":1}"#,
            r#"{"C":"\"a\"b\""}"#,
        ] {
            assert!(fields(bad).double_encoded("C").is_err(), "{bad}");
        }
    }

    #[test]
    fn maps_and_lists() {
        let f = fields(r#"{"Labels":{"a":"1"},"labels":{"b":"2"}}"#);
        assert_eq!(f.string_map("Labels").unwrap().unwrap().len(), 2);
        let f = fields(r#"{"Labels":{"a":"1"},"labels":null}"#);
        assert_eq!(f.string_map("Labels").unwrap(), None);
        assert!(
            fields(r#"{"Labels":{"a":1}}"#)
                .string_map("Labels")
                .is_err()
        );
        assert!(
            fields(r#"{"IsIncremental":"true"}"#)
                .bool("IsIncremental")
                .is_err()
        );
    }

    fn offsets(json: &str) -> Result<(Fields, Vec<i64>)> {
        parse_object_with_list(json.as_bytes(), "f.cfg", "Blocks", &mut |i, f| {
            let offset = f.int("Offset")?;
            assert!(i < 10);
            Ok(offset)
        })
    }

    #[test]
    fn a_streamed_list_reads_as_go_reads_a_slice() {
        let (f, list) =
            offsets(r#"{"Name":"b","Blocks":[{"Offset":1},{"offset":2}],"X":1}"#).unwrap();
        assert_eq!(list, vec![1, 2]);
        assert_eq!(f.string("Name").unwrap(), "b");
        assert!(
            f.unknown(&["Name"]).iter().all(|(k, _)| k == "X"),
            "the list is not kept"
        );
        // Every occurrence replaces the list; null empties it; an element
        // that is null is a zero struct.
        assert_eq!(
            offsets(r#"{"Blocks":[{"Offset":1}],"BLOCKS":[{"Offset":3}]}"#)
                .unwrap()
                .1,
            vec![3]
        );
        assert_eq!(
            offsets(r#"{"Blocks":[{"Offset":1}],"blocks":null}"#)
                .unwrap()
                .1,
            Vec::<i64>::new()
        );
        assert_eq!(
            offsets(r#"{"Blocks":[null,{"Offset":4}]}"#).unwrap().1,
            vec![0, 4]
        );
        assert_eq!(offsets(r#"{"Name":"b"}"#).unwrap().1, Vec::<i64>::new());
        assert_eq!(offsets("null").unwrap().1, Vec::<i64>::new());
        assert_eq!(
            offsets(r#"{"Blocks":[{"Offset":5}]} trailing"#).unwrap().1,
            vec![5]
        );
    }

    #[test]
    fn a_streamed_list_names_the_field_that_is_wrong() {
        for (json, field, reason) in [
            (
                r#"{"Blocks":[{"Offset":1},{"offset":2.5}]}"#,
                "Blocks[1].Offset",
                "not an integer",
            ),
            (
                r#"{"Blocks":[{"Offset":1},7]}"#,
                "Blocks[1]",
                "expected an object, found a number",
            ),
            (
                r#"{"Blocks":{}}"#,
                "Blocks",
                "expected an array, found an object",
            ),
            (
                r#"{"Blocks":"x"}"#,
                "Blocks",
                "expected an array, found a string",
            ),
            (
                r#"{"Blocks":true}"#,
                "Blocks",
                "expected an array, found a boolean",
            ),
            (
                r#"{"Blocks":-1}"#,
                "Blocks",
                "expected an array, found a number",
            ),
        ] {
            match offsets(json) {
                Err(Error::Field {
                    field: f,
                    reason: r,
                    path,
                }) => {
                    assert_eq!((f.as_str(), path.as_str()), (field, "f.cfg"), "{json}");
                    assert!(r.contains(reason), "{json}: {r}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
        for (json, reason) in [
            ("", "the file is empty"),
            ("  \n", "the file is empty"),
            (r#"{"Blocks":[{"Offset":1}"#, "unexpected end of file"),
            ("[1]", "expected a JSON object"),
        ] {
            match offsets(json) {
                Err(Error::Json { reason: r, .. }) => assert!(r.contains(reason), "{json:?}: {r}"),
                other => panic!("{json:?}: {other:?}"),
            }
        }
    }
}
