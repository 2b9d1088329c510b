//! What every simulated component works with during one round: the API
//! server, the event log, the time, and the backup target in reach.

use vmbackup_engine::ObjectRef;

use crate::clock::Clock;
use crate::events::{EventType, Events};
use crate::store::Store;
use crate::target::TargetServer;

/// The shared state of one cluster, lent to a component for one tick.
#[derive(Debug)]
pub struct Env<'a> {
    /// The API server.
    pub store: &'a mut Store,
    /// The event log.
    pub events: &'a mut Events,
    /// The time.
    pub clock: Clock,
    /// The backup target on the network, if any.
    pub server: Option<&'a TargetServer>,
}

impl<'a> Env<'a> {
    /// The time as Kubernetes writes it.
    pub fn now(&self) -> String {
        self.clock.text()
    }

    /// Records an event; returns whether it is new.
    pub fn event(
        &mut self,
        source: &'static str,
        object: ObjectRef,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
    ) -> bool {
        let time = self.clock.text();
        self.events
            .record(time, source, object, type_, reason, message)
    }

    /// Appends a log line of `component`.
    pub fn log(
        &mut self,
        component: &'static str,
        level: &'static str,
        message: impl Into<String>,
    ) {
        let time = self.clock.text();
        self.events.log(time, component, level, message);
    }

    /// The target server a URL designates, if it is the one in reach.
    pub fn target_at(&self, url: &str) -> Option<&'a TargetServer> {
        self.server.filter(|s| !url.is_empty() && s.url() == url)
    }
}
