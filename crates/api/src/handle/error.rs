//! Why a handle is malformed: a typed reason with a stable code, and the error
//! that carries it together with the handle.

use std::fmt;

use super::names::{NameKind, NameProblem};

/// The part of a handle a reason is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HandlePart {
    /// The scheme before `://`.
    Scheme,
    /// The volume part of a `bak://`, `bs://` or `snap://` handle.
    Volume,
    /// The backup name of a `bak://` or `bs://` handle.
    Backup,
    /// The snapshot name of a `snap://` handle.
    Snapshot,
    /// The host of a `bi://` handle (`backing`).
    Host,
    /// The query of a `bi://` handle as a whole (its syntax, its keys).
    Query,
    /// The value of one query parameter of a `bi://` handle.
    Parameter(String),
}

impl fmt::Display for HandlePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlePart::Scheme => f.write_str("scheme"),
            HandlePart::Volume => f.write_str("volume part"),
            HandlePart::Backup => f.write_str("backup name"),
            HandlePart::Snapshot => f.write_str("snapshot name"),
            HandlePart::Host => f.write_str("host"),
            HandlePart::Query => f.write_str("query"),
            HandlePart::Parameter(key) => write!(f, "parameter `{key}`"),
        }
    }
}

/// Why a handle is malformed. [`MalformedReason::code`] gives a stable
/// kebab-case code for scripts; `Display` gives the sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MalformedReason {
    /// The handle is the empty string.
    #[error("the handle is empty")]
    Empty,
    /// The handle is not valid UTF-8 (only from [`super::SnapshotHandle::parse_bytes`]).
    #[error("the handle is not valid UTF-8")]
    NotUtf8,
    /// There is no `://` at all.
    #[error("no `://`: a handle is `<scheme>://...` with scheme bak, snap or bi")]
    MissingScheme,
    /// The scheme is not one Longhorn knows (`bak`, `bs`, `snap`, `bi`);
    /// schemes are case-sensitive.
    #[error(
        "unknown scheme `{scheme}`: Longhorn knows only bak, bs (deprecated), snap and bi, in lowercase"
    )]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// A second `://` follows the scheme. Longhorn splits on every `://` and
    /// reads only what lies between the first and the second.
    #[error("a second `://` after the scheme")]
    ExtraSchemeSeparator,
    /// No `/` between the volume part and the name: Longhorn reads nothing.
    #[error("no `/` between the volume part and the name")]
    MissingSlash,
    /// More than one `/` after the scheme (or a `/` after a `bi://` host).
    /// Longhorn ignores what follows the second part.
    #[error("extra `/`: a handle is `<scheme>://<volume>/<name>` with exactly one `/`")]
    ExtraSlash,
    /// A part that must not be empty is empty.
    #[error("the {part} is empty")]
    EmptyPart {
        /// Which part.
        part: HandlePart,
    },
    /// A character that the part's naming rule does not allow (or not in
    /// that position).
    #[error("the {part} {value:?} has {ch:?} at index {index}, not allowed there; expected {rule}", rule = kind.rule())]
    BadCharacters {
        /// Which part.
        part: HandlePart,
        /// The part's value (cut after 64 bytes).
        value: String,
        /// The rule it breaks.
        kind: NameKind,
        /// The first offending character.
        ch: char,
        /// Its position in the part (in characters, from 0).
        index: usize,
    },
    /// The part is shorter than its naming rule allows.
    #[error("the {part} {value:?} is too short ({len} characters, at least {min})")]
    TooShort {
        /// Which part.
        part: HandlePart,
        /// The part's value (cut after 64 bytes).
        value: String,
        /// Its length in bytes.
        len: usize,
        /// The shortest allowed.
        min: usize,
    },
    /// The part is longer than its naming rule allows.
    #[error("the {part} is too long ({len} characters, at most {max})")]
    TooLong {
        /// Which part.
        part: HandlePart,
        /// Its length in bytes.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A `bi://` handle whose host is not `backing`.
    #[error("backing image handles are `bi://backing?...`, not host `{host}`")]
    UnexpectedHost {
        /// The host as written.
        host: String,
    },
    /// A `bi://` query item that is not `key=value`.
    #[error("query item {item:?} is not `key=value`")]
    BadQuery {
        /// The item as written.
        item: String,
    },
    /// A required `bi://` parameter is missing or empty.
    #[error("missing parameter `{name}`")]
    MissingParameter {
        /// The parameter's key.
        name: String,
    },
    /// A `bi://` parameter is given twice (Longhorn would use the first).
    #[error("parameter `{name}` is given more than once")]
    DuplicateParameter {
        /// The parameter's key.
        name: String,
    },
}

impl MalformedReason {
    /// A stable kebab-case code, used in `vmbackup handle check` output.
    pub fn code(&self) -> &'static str {
        match self {
            MalformedReason::Empty => "empty",
            MalformedReason::NotUtf8 => "not-utf8",
            MalformedReason::MissingScheme => "missing-scheme",
            MalformedReason::UnknownScheme { .. } => "unknown-scheme",
            MalformedReason::ExtraSchemeSeparator => "extra-scheme-separator",
            MalformedReason::MissingSlash => "missing-slash",
            MalformedReason::ExtraSlash => "extra-slash",
            MalformedReason::EmptyPart { .. } => "empty-part",
            MalformedReason::BadCharacters { .. } => "bad-characters",
            MalformedReason::TooShort { .. } => "too-short",
            MalformedReason::TooLong { .. } => "too-long",
            MalformedReason::UnexpectedHost { .. } => "unexpected-host",
            MalformedReason::BadQuery { .. } => "bad-query",
            MalformedReason::MissingParameter { .. } => "missing-parameter",
            MalformedReason::DuplicateParameter { .. } => "duplicate-parameter",
        }
    }

    /// Every code [`MalformedReason::code`] can return.
    pub const CODES: &'static [&'static str] = &[
        "empty",
        "not-utf8",
        "missing-scheme",
        "unknown-scheme",
        "extra-scheme-separator",
        "missing-slash",
        "extra-slash",
        "empty-part",
        "bad-characters",
        "too-short",
        "too-long",
        "unexpected-host",
        "bad-query",
        "missing-parameter",
        "duplicate-parameter",
    ];

    /// The reason a name in `part` breaks its rule (the value clipped for
    /// messages).
    pub(crate) fn from_name(
        part: HandlePart,
        kind: NameKind,
        value: &str,
        problem: NameProblem,
    ) -> Self {
        match problem {
            NameProblem::Empty => MalformedReason::EmptyPart { part },
            NameProblem::TooShort { len, min } => MalformedReason::TooShort {
                part,
                value: clip(value),
                len,
                min,
            },
            NameProblem::TooLong { len, max } => MalformedReason::TooLong { part, len, max },
            NameProblem::BadCharacter { ch, index } => MalformedReason::BadCharacters {
                part,
                value: clip(value),
                kind,
                ch,
                index,
            },
        }
    }
}

/// A handle that is not well-formed: the handle as given and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed snapshot handle {}: {reason}", Shown(handle))]
pub struct HandleError {
    handle: String,
    reason: MalformedReason,
}

impl HandleError {
    pub(crate) fn new(handle: impl Into<String>, reason: MalformedReason) -> Self {
        HandleError {
            handle: handle.into(),
            reason,
        }
    }

    /// The handle as given (lossily decoded if it was not UTF-8).
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// Why it is malformed.
    pub fn reason(&self) -> &MalformedReason {
        &self.reason
    }

    /// The class of a malformed handle, [`super::HandleClass::Malformed`].
    pub fn class(&self) -> super::HandleClass {
        super::HandleClass::Malformed
    }
}

/// Most of a value we keep in a reason; longer ones are cut.
const CLIPPED_MAX: usize = 64;

/// `value`, cut after [`CLIPPED_MAX`] bytes (at a character boundary) with
/// `...` appended, for reasons that quote free text from the handle.
pub(crate) fn clip(value: &str) -> String {
    if value.len() <= CLIPPED_MAX {
        return value.to_owned();
    }
    let mut cut = CLIPPED_MAX;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &value[..cut])
}

/// Most of a handle we show in messages; longer ones are cut.
const SHOWN_MAX: usize = 200;

/// A handle quoted for a message, cut after [`SHOWN_MAX`] bytes so that a
/// hostile value cannot flood a log.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.len() <= SHOWN_MAX {
            return write!(f, "{s:?}");
        }
        let mut cut = SHOWN_MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        write!(f, "{:?}... ({} more bytes)", &s[..cut], s.len() - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_listed() {
        let mut codes = MalformedReason::CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MalformedReason::CODES.len());
        let samples = [
            MalformedReason::Empty,
            MalformedReason::NotUtf8,
            MalformedReason::MissingScheme,
            MalformedReason::UnknownScheme { scheme: "x".into() },
            MalformedReason::ExtraSchemeSeparator,
            MalformedReason::MissingSlash,
            MalformedReason::ExtraSlash,
            MalformedReason::EmptyPart {
                part: HandlePart::Volume,
            },
            MalformedReason::BadCharacters {
                part: HandlePart::Backup,
                value: "B".into(),
                kind: NameKind::Backup,
                ch: 'B',
                index: 0,
            },
            MalformedReason::TooShort {
                part: HandlePart::Volume,
                value: "v".into(),
                len: 1,
                min: 2,
            },
            MalformedReason::TooLong {
                part: HandlePart::Volume,
                len: 41,
                max: 40,
            },
            MalformedReason::UnexpectedHost { host: "h".into() },
            MalformedReason::BadQuery { item: "x".into() },
            MalformedReason::MissingParameter { name: "k".into() },
            MalformedReason::DuplicateParameter { name: "k".into() },
        ];
        assert_eq!(samples.len(), MalformedReason::CODES.len());
        for reason in &samples {
            assert!(
                MalformedReason::CODES.contains(&reason.code()),
                "{reason:?}"
            );
        }
    }

    #[test]
    fn error_message_names_handle_and_reason() {
        let err = HandleError::new("bak://v/b/x", MalformedReason::ExtraSlash);
        assert_eq!(
            err.to_string(),
            "malformed snapshot handle \"bak://v/b/x\": extra `/`: a handle is \
             `<scheme>://<volume>/<name>` with exactly one `/`"
        );
    }

    #[test]
    fn clip_cuts_at_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "ü".repeat(40);
        let clipped = clip(&long);
        assert!(clipped.ends_with("..."));
        assert_eq!(clipped.len(), 64 + 3);
    }

    #[test]
    fn long_handles_are_cut_in_messages() {
        let handle = format!("bak://{}", "é".repeat(500));
        let err = HandleError::new(handle.clone(), MalformedReason::MissingSlash);
        let text = err.to_string();
        assert!(text.len() < 400, "{}", text.len());
        assert!(text.contains("more bytes"));
        assert_eq!(err.handle(), handle);
    }
}
