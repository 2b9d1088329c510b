//! JSON as Go's `encoding/json` writes and reads it: compact output with Go's
//! HTML-safe escaping and struct key order, and a reader that matches keys
//! case-insensitively, ignores unknown keys, lets the last duplicate win and
//! understands the `,string` tag (including its double encoding of strings).

mod decode;
mod encode;

pub(crate) use decode::{Fields, parse_object, parse_object_with_list};
pub(crate) use encode::{ObjectWriter, to_go_json};
