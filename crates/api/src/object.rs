//! Top-level Kubernetes objects: `apiVersion`/`kind` checking, the
//! [`kube::Resource`] implementations, and the serde glue that keeps
//! top-level objects lossless.
//!
//! Every top-level type here is a plain struct with
//! `metadata: ObjectMeta` (k8s-openapi), its own fields, and a flattened
//! [`Extra`](crate::Extra). `apiVersion` and `kind` are not stored: they are
//! checked when reading (a `kind` that does not match, or an API group or
//! version the type does not understand, is an error) and written on output.
//! An accepted older version (`snapshot.storage.k8s.io/v1beta1`) is written
//! back as it was read.

use serde_json::{Map, Value};

/// Static type information of a top-level object type.
pub trait TypeInfo {
    /// API group, `""` for the core group.
    const GROUP: &'static str;
    /// Version written on output.
    const VERSION: &'static str;
    /// Kind.
    const KIND: &'static str;
    /// Resource plural name.
    const PLURAL: &'static str;
    /// Whether objects of this type live in a namespace.
    const NAMESPACED: bool;
    /// Other versions of the group whose objects have the same shape and are
    /// accepted when reading.
    const ALSO_READS: &'static [&'static str] = &[];

    /// `group/version` as written on output.
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_owned()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }

    /// Whether `api_version` is one this type reads.
    fn reads_api_version(api_version: &str) -> bool {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        group == Self::GROUP && (version == Self::VERSION || Self::ALSO_READS.contains(&version))
    }
}

/// Writing an object as a JSON value. For the types of this crate this
/// builds the value once; `serde_json::to_value` on them builds it and then
/// copies it, as a generic `Serialize` must.
pub trait ToValue {
    /// The object as a JSON value, as `serde_json::to_value` gives it.
    fn to_value(&self) -> Result<Value, serde_json::Error>;
}

/// Checks `apiVersion` and `kind` of a top-level object (when present) and
/// removes them from the map. Returns the `apiVersion` when it is an accepted
/// version other than the default.
#[doc(hidden)]
pub fn take_type_meta<T: TypeInfo>(map: &mut Map<String, Value>) -> Result<Option<String>, String> {
    let kind = map.remove("kind");
    let api_version = map.remove("apiVersion");
    match &kind {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == T::KIND => {}
        Some(Value::String(kind)) => {
            return Err(format!("kind: expected `{}`, found `{kind}`", T::KIND));
        }
        Some(other) => return Err(format!("kind: expected a string, found {other}")),
    }
    match api_version {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(version)) if version == T::api_version() => Ok(None),
        Some(Value::String(version)) if T::reads_api_version(&version) => Ok(Some(version)),
        Some(Value::String(version)) => Err(format!(
            "apiVersion: `{version}` is not a version of {} this tool reads (expected `{}`)",
            T::KIND,
            T::api_version()
        )),
        Some(other) => Err(format!("apiVersion: expected a string, found {other}")),
    }
}

/// Writes `apiVersion` and `kind` into a serialised top-level object.
#[doc(hidden)]
pub fn put_type_meta<T: TypeInfo>(object: &mut Map<String, Value>, read_as: Option<&str>) {
    let api_version = read_as.map_or_else(T::api_version, str::to_owned);
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(T::KIND.into()));
}

/// Implements [`TypeInfo`], [`kube::Resource`] and lossless serde for a
/// top-level type that derives serde with `#[serde(remote = "Self")]` and has
/// `metadata: ObjectMeta` and a flattened `extra: Extra`.
#[macro_export]
#[doc(hidden)]
macro_rules! k8s_object {
    (
        $ty:ty, group = $group:literal, version = $version:literal, kind = $kind:literal,
        plural = $plural:literal, namespaced = $namespaced:tt $(, also_reads = [$($also:literal),*])?
    ) => {
        impl $crate::object::TypeInfo for $ty {
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const NAMESPACED: bool = $namespaced;
            $(const ALSO_READS: &'static [&'static str] = &[$($also),*];)?
        }

        impl ::kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $crate::k8s_object!(@scope $namespaced);

            fn kind(_: &()) -> ::std::borrow::Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> ::std::borrow::Cow<'_, str> {
                $group.into()
            }
            fn version(_: &()) -> ::std::borrow::Cow<'_, str> {
                $version.into()
            }
            fn plural(_: &()) -> ::std::borrow::Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                let mut map = <::serde_json::Map<String, ::serde_json::Value> as ::serde::Deserialize>::deserialize(
                    deserializer,
                )?;
                let read_as = $crate::object::take_type_meta::<Self>(&mut map).map_err(D::Error::custom)?;
                let raw_metadata = map.get("metadata").cloned();
                let nulls = $crate::extra::null_keys(&map);
                let mut this: Self =
                    $crate::extra::from_map(map, |de| <$ty>::deserialize(de)).map_err(D::Error::custom)?;
                this.extra.remember_nulls(nulls);
                this.extra.remember_api_version(read_as);
                if let Some(raw) = raw_metadata {
                    let typed = ::serde_json::to_value(&this.metadata).map_err(D::Error::custom)?;
                    this.extra.remember_residue("metadata", &raw, &typed);
                }
                Ok(this)
            }
        }

        impl $crate::object::ToValue for $ty {
            fn to_value(&self) -> Result<::serde_json::Value, ::serde_json::Error> {
                let mut value =
                    $crate::extra::build_value(|| <$ty>::serialize(self, ::serde_json::value::Serializer))?;
                if let ::serde_json::Value::Object(object) = &mut value {
                    self.extra.restore_into(object);
                    $crate::object::put_type_meta::<Self>(object, self.extra.read_api_version());
                }
                Ok(value)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let value = $crate::object::ToValue::to_value(self)
                    .map_err(<S::Error as ::serde::ser::Error>::custom)?;
                ::serde::Serialize::serialize(&value, serializer)
            }
        }
    };
    (@scope true) => { ::kube::core::NamespaceResourceScope };
    (@scope false) => { ::kube::core::ClusterResourceScope };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe;
    impl TypeInfo for Probe {
        const GROUP: &'static str = "snapshot.storage.k8s.io";
        const VERSION: &'static str = "v1";
        const KIND: &'static str = "VolumeSnapshot";
        const PLURAL: &'static str = "volumesnapshots";
        const NAMESPACED: bool = true;
        const ALSO_READS: &'static [&'static str] = &["v1beta1"];
    }

    fn map(value: serde_json::Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn accepts_default_and_listed_versions() {
        let mut m = map(
            serde_json::json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot"}),
        );
        assert_eq!(take_type_meta::<Probe>(&mut m), Ok(None));
        assert!(m.is_empty());
        let mut m = map(serde_json::json!({"apiVersion": "snapshot.storage.k8s.io/v1beta1"}));
        assert_eq!(
            take_type_meta::<Probe>(&mut m),
            Ok(Some("snapshot.storage.k8s.io/v1beta1".into()))
        );
    }

    #[test]
    fn rejects_other_kinds_and_groups() {
        let mut m = map(serde_json::json!({"kind": "VolumeSnapshotContent"}));
        let err = take_type_meta::<Probe>(&mut m).unwrap_err();
        assert!(
            err.contains("kind") && err.contains("VolumeSnapshotContent"),
            "{err}"
        );
        let mut m = map(serde_json::json!({"apiVersion": "longhorn.io/v1"}));
        assert!(
            take_type_meta::<Probe>(&mut m)
                .unwrap_err()
                .starts_with("apiVersion")
        );
        let mut m = map(serde_json::json!({"apiVersion": "snapshot.storage.k8s.io/v2"}));
        assert!(take_type_meta::<Probe>(&mut m).is_err());
    }

    #[test]
    fn core_group_api_version_has_no_slash() {
        struct Core;
        impl TypeInfo for Core {
            const GROUP: &'static str = "";
            const VERSION: &'static str = "v1";
            const KIND: &'static str = "X";
            const PLURAL: &'static str = "xs";
            const NAMESPACED: bool = true;
        }
        assert_eq!(Core::api_version(), "v1");
        assert!(Core::reads_api_version("v1"));
        assert!(!Core::reads_api_version("apps/v1"));
    }
}
