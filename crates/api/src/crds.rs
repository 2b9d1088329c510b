//! Our CustomResourceDefinitions.
