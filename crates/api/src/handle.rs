//! Longhorn CSI snapshot handles: parse, format and classify.
