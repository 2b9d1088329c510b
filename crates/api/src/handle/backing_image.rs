//! The query of a `bi://backing?...` handle: which backing image, and how
//! Longhorn would create it if it is missing.
//!
//! Longhorn writes `bi://backing?backingImage=<name>&backingImageDataSourceType=export-from-volume&export-type=<raw|qcow2>&volume-name=<volume>`,
//! unescaped, in that order. We accept any order and extra parameters, keep
//! them as written so that a handle formats back to itself, and require what
//! Longhorn requires to use the handle: a non-empty `backingImage` and
//! `backingImageDataSourceType`.

use std::fmt;

use super::error::{HandlePart, MalformedReason, clip};
use super::names::{BackingImageName, NameKind, VolumeName};

/// The host every backing image handle carries.
pub const HOST: &str = "backing";
/// The parameter naming the backing image.
pub const PARAM_BACKING_IMAGE: &str = "backingImage";
/// The parameter naming the backing image's data source type.
pub const PARAM_DATA_SOURCE_TYPE: &str = "backingImageDataSourceType";
/// The parameter with the export format of an `export-from-volume` source.
pub const PARAM_EXPORT_TYPE: &str = "export-type";
/// The parameter with the source volume of an `export-from-volume` source.
pub const PARAM_VOLUME_NAME: &str = "volume-name";
/// The data source type Longhorn's driver writes.
pub const DATA_SOURCE_EXPORT_FROM_VOLUME: &str = "export-from-volume";

/// The export format of a backing image exported from a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExportType {
    /// A raw image (Longhorn's default).
    #[default]
    Raw,
    /// A qcow2 image.
    Qcow2,
}

impl ExportType {
    /// The value as written in the handle.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportType::Raw => "raw",
            ExportType::Qcow2 => "qcow2",
        }
    }
}

impl fmt::Display for ExportType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parameters of a well-formed `bi://backing?...` handle, in the order
/// they were written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackingImageParams {
    backing_image: BackingImageName,
    volume_name: Option<VolumeName>,
    pairs: Vec<(String, String)>,
}

impl BackingImageParams {
    /// The parameters Longhorn's driver writes for a backing image exported
    /// from `volume`, in its order.
    pub fn export_from_volume(
        backing_image: BackingImageName,
        export_type: ExportType,
        volume: VolumeName,
    ) -> Self {
        let pairs = vec![
            (PARAM_BACKING_IMAGE.to_owned(), backing_image.to_string()),
            (
                PARAM_DATA_SOURCE_TYPE.to_owned(),
                DATA_SOURCE_EXPORT_FROM_VOLUME.to_owned(),
            ),
            (
                PARAM_EXPORT_TYPE.to_owned(),
                export_type.as_str().to_owned(),
            ),
            (PARAM_VOLUME_NAME.to_owned(), volume.to_string()),
        ];
        BackingImageParams {
            backing_image,
            volume_name: Some(volume),
            pairs,
        }
    }

    /// Parse the text after `bi://`.
    pub(crate) fn parse(rest: &str) -> Result<Self, MalformedReason> {
        let (authority, query) = match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        };
        let mut pairs: Vec<(String, String)> = Vec::new();
        let items = query.filter(|q| !q.is_empty()).map(|q| q.split('&'));
        for item in items.into_iter().flatten() {
            let Some((key, value)) = item.split_once('=') else {
                return Err(MalformedReason::BadQuery { item: clip(item) });
            };
            if key.is_empty() {
                return Err(MalformedReason::BadQuery { item: clip(item) });
            }
            check_token(HandlePart::Query, key)?;
            if !value.is_empty() {
                check_token(HandlePart::Parameter(key.to_owned()), value)?;
            }
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(MalformedReason::DuplicateParameter {
                    name: key.to_owned(),
                });
            }
            pairs.push((key.to_owned(), value.to_owned()));
        }
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let Some(backing_image) = get(PARAM_BACKING_IMAGE) else {
            return Err(MalformedReason::MissingParameter {
                name: PARAM_BACKING_IMAGE.to_owned(),
            });
        };
        if get(PARAM_DATA_SOURCE_TYPE).is_none() {
            return Err(MalformedReason::MissingParameter {
                name: PARAM_DATA_SOURCE_TYPE.to_owned(),
            });
        }
        let backing_image = BackingImageName::new(backing_image).map_err(|e| {
            MalformedReason::from_name(
                HandlePart::Parameter(PARAM_BACKING_IMAGE.to_owned()),
                NameKind::BackingImage,
                &e.name,
                e.problem,
            )
        })?;
        let volume_name = match pairs.iter().find(|(k, _)| k == PARAM_VOLUME_NAME) {
            None => None,
            Some((_, v)) => Some(VolumeName::new(v.as_str()).map_err(|e| {
                MalformedReason::from_name(
                    HandlePart::Parameter(PARAM_VOLUME_NAME.to_owned()),
                    NameKind::Volume,
                    &e.name,
                    e.problem,
                )
            })?),
        };
        if authority.contains('/') {
            return Err(MalformedReason::ExtraSlash);
        }
        if authority != HOST {
            return Err(MalformedReason::UnexpectedHost {
                host: clip(authority),
            });
        }
        Ok(BackingImageParams {
            backing_image,
            volume_name,
            pairs,
        })
    }

    /// The backing image's name (`backingImage`).
    pub fn backing_image(&self) -> &BackingImageName {
        &self.backing_image
    }

    /// The data source type (`backingImageDataSourceType`), e.g. `export-from-volume`.
    pub fn data_source_type(&self) -> &str {
        self.get(PARAM_DATA_SOURCE_TYPE).unwrap_or_default()
    }

    /// The export format (`export-type`), if given.
    pub fn export_type(&self) -> Option<&str> {
        self.get(PARAM_EXPORT_TYPE)
    }

    /// The source volume (`volume-name`), if given.
    pub fn volume_name(&self) -> Option<&VolumeName> {
        self.volume_name.as_ref()
    }

    /// The value of any parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl fmt::Display for BackingImageParams {
    /// Formats the whole handle, `bi://backing?...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bi://{HOST}?")?;
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

fn check_token(part: HandlePart, value: &str) -> Result<(), MalformedReason> {
    NameKind::QueryToken
        .check(value)
        .map_err(|problem| MalformedReason::from_name(part, NameKind::QueryToken, value, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONGHORN_WRITES: &str = "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=raw&volume-name=pvc-0123abcd-test";

    #[test]
    fn formats_like_longhorn() {
        let params = BackingImageParams::export_from_volume(
            BackingImageName::new("bi-1").unwrap(),
            ExportType::Raw,
            VolumeName::new("pvc-0123abcd-test").unwrap(),
        );
        assert_eq!(params.to_string(), LONGHORN_WRITES);
    }

    #[test]
    fn parses_what_longhorn_writes() {
        let rest = LONGHORN_WRITES.strip_prefix("bi://").unwrap();
        let params = BackingImageParams::parse(rest).unwrap();
        assert_eq!(params.backing_image(), "bi-1");
        assert_eq!(params.data_source_type(), "export-from-volume");
        assert_eq!(params.export_type(), Some("raw"));
        assert_eq!(params.volume_name().unwrap(), "pvc-0123abcd-test");
        let all: Vec<_> = params.iter().collect();
        assert_eq!(
            all,
            [
                ("backingImage", "bi-1"),
                ("backingImageDataSourceType", "export-from-volume"),
                ("export-type", "raw"),
                ("volume-name", "pvc-0123abcd-test"),
            ]
        );
        assert_eq!(params.to_string(), LONGHORN_WRITES);
    }

    #[test]
    fn any_order_and_extra_parameters_round_trip() {
        let rest = "backing?backingImageDataSourceType=download&backingImage=img-2&x=1&empty=";
        let params = BackingImageParams::parse(rest).unwrap();
        assert_eq!(params.backing_image(), "img-2");
        assert_eq!(params.export_type(), None);
        assert_eq!(params.volume_name(), None);
        assert_eq!(params.get("x"), Some("1"));
        assert_eq!(params.get("empty"), Some(""));
        assert_eq!(params.to_string(), format!("bi://{rest}"));
    }

    #[test]
    fn rejects() {
        let cases: &[(&str, MalformedReason)] = &[
            (
                "anything",
                MalformedReason::MissingParameter {
                    name: "backingImage".into(),
                },
            ),
            (
                "backing",
                MalformedReason::MissingParameter {
                    name: "backingImage".into(),
                },
            ),
            (
                "backing?backingImage=bi-1",
                MalformedReason::MissingParameter {
                    name: "backingImageDataSourceType".into(),
                },
            ),
            (
                "backing?backingImage=&backingImageDataSourceType=download",
                MalformedReason::MissingParameter {
                    name: "backingImage".into(),
                },
            ),
            (
                "other?backingImage=bi-1&backingImageDataSourceType=download",
                MalformedReason::UnexpectedHost {
                    host: "other".into(),
                },
            ),
            (
                "backing/x?backingImage=bi-1&backingImageDataSourceType=download",
                MalformedReason::ExtraSlash,
            ),
            (
                "backing?backingImage=bi-1&backingImage=bi-2&backingImageDataSourceType=d",
                MalformedReason::DuplicateParameter {
                    name: "backingImage".into(),
                },
            ),
            (
                "backing?backingImage=bi-1&&backingImageDataSourceType=d",
                MalformedReason::BadQuery { item: "".into() },
            ),
            (
                "backing?backingImage",
                MalformedReason::BadQuery {
                    item: "backingImage".into(),
                },
            ),
            (
                "backing?=x",
                MalformedReason::BadQuery { item: "=x".into() },
            ),
            (
                "backing?backingImage=bi%2D1&backingImageDataSourceType=d",
                MalformedReason::BadCharacters {
                    part: HandlePart::Parameter("backingImage".into()),
                    value: "bi%2D1".into(),
                    kind: NameKind::QueryToken,
                    ch: '%',
                    index: 2,
                },
            ),
            (
                "backing?backingImage=BI&backingImageDataSourceType=d",
                MalformedReason::BadCharacters {
                    part: HandlePart::Parameter("backingImage".into()),
                    value: "BI".into(),
                    kind: NameKind::BackingImage,
                    ch: 'B',
                    index: 0,
                },
            ),
            (
                "backing?backingImage=bi-1&backingImageDataSourceType=d&volume-name=a",
                MalformedReason::TooShort {
                    part: HandlePart::Parameter("volume-name".into()),
                    value: "a".into(),
                    len: 1,
                    min: 2,
                },
            ),
            (
                "backing?backingImage=bi-1&backingImageDataSourceType=d#frag",
                MalformedReason::BadCharacters {
                    part: HandlePart::Parameter("backingImageDataSourceType".into()),
                    value: "d#frag".into(),
                    kind: NameKind::QueryToken,
                    ch: '#',
                    index: 1,
                },
            ),
        ];
        for (rest, reason) in cases {
            assert_eq!(
                BackingImageParams::parse(rest).as_ref().err(),
                Some(reason),
                "{rest}"
            );
        }
    }
}
