//! Reading objects from YAML and JSON documents.
