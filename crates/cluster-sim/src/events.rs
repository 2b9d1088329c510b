//! Kubernetes-style events: what the external controllers report about the
//! objects they act on (a provisioning failure with Longhorn's message, a
//! backup that completed, a target that went away).

use std::fmt;

use serde::Serialize;
use vmbackup_engine::ObjectRef;

/// `Normal` or `Warning`, as Kubernetes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// Something went as expected.
    Normal,
    /// Something failed or needs attention.
    Warning,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When it was first seen (simulated time).
    pub time: String,
    /// Which component reported it.
    pub source: &'static str,
    /// The object it is about.
    pub object: ObjectRef,
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: EventType,
    /// Short CamelCase reason (`ProvisioningFailed`).
    pub reason: String,
    /// The message.
    pub message: String,
    /// How many times it was reported.
    pub count: u32,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {} {}: {} ({}){}",
            self.time,
            self.type_,
            self.reason,
            self.object,
            self.message,
            self.source,
            if self.count > 1 {
                format!(" x{}", self.count)
            } else {
                String::new()
            }
        )
    }
}

/// One line a component logged (for example Longhorn's CSI plugin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// When (simulated time).
    pub time: String,
    /// The component (`longhorn-csi-plugin`).
    pub component: &'static str,
    /// `debug`, `info`, `warning` or `error`.
    pub level: &'static str,
    /// The message.
    pub message: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} time=\"{}\" level={} msg={:?}",
            self.component, self.time, self.level, self.message
        )
    }
}

/// The events of one cluster, oldest first. A repeated event (same object,
/// reason and message) is counted instead of appended, as Kubernetes does.
/// Component logs are kept beside them.
#[derive(Debug, Clone, Default)]
pub struct Events {
    list: Vec<Event>,
    logs: Vec<LogLine>,
}

impl Events {
    /// Records an event. Returns whether it is new (not a repeat).
    pub fn record(
        &mut self,
        time: String,
        source: &'static str,
        object: ObjectRef,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
    ) -> bool {
        let message = message.into();
        if let Some(e) = self
            .list
            .iter_mut()
            .find(|e| e.object == object && e.reason == reason && e.message == message)
        {
            e.count += 1;
            return false;
        }
        self.list.push(Event {
            time,
            source,
            object,
            type_,
            reason: reason.to_owned(),
            message,
            count: 1,
        });
        true
    }

    /// Appends a log line of `component`.
    pub fn log(
        &mut self,
        time: String,
        component: &'static str,
        level: &'static str,
        message: impl Into<String>,
    ) {
        self.logs.push(LogLine {
            time,
            component,
            level,
            message: message.into(),
        });
    }

    /// Every log line, oldest first.
    pub fn logs(&self) -> &[LogLine] {
        &self.logs
    }

    /// Every event, oldest first.
    pub fn all(&self) -> &[Event] {
        &self.list
    }

    /// Events about `object`.
    pub fn about<'a>(&'a self, object: &'a ObjectRef) -> impl Iterator<Item = &'a Event> + 'a {
        self.list.iter().filter(move |e| &e.object == object)
    }

    /// Events with `reason`.
    pub fn with_reason<'a>(&'a self, reason: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.list.iter().filter(move |e| e.reason == reason)
    }

    /// Number of distinct events.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::Kind;

    #[test]
    fn repeats_are_counted() {
        let mut e = Events::default();
        let r = ObjectRef::namespaced(Kind::PersistentVolumeClaim, "ns", "p");
        assert!(e.record(
            "t".into(),
            "x",
            r.clone(),
            EventType::Warning,
            "Failed",
            "boom"
        ));
        assert!(!e.record(
            "t2".into(),
            "x",
            r.clone(),
            EventType::Warning,
            "Failed",
            "boom"
        ));
        assert_eq!(e.len(), 1);
        assert_eq!(e.all()[0].count, 2);
        assert_eq!(e.about(&r).count(), 1);
    }
}
