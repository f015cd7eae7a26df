//! A pure, in-memory incident for tests: declare it, run commands at chosen times, read its clocks.
#![allow(dead_code)]

use jiff::{SignedDuration, Timestamp};
use tocsin_core::clock::{Clock, ClockState, clocks};
use tocsin_core::incident::{
    Actor, Command, Declaration, Incident, IncidentEvent, IncidentNumber, Recorded, Rejection, decide, declare,
};
use tocsin_core::plan::{Plan, presets};

pub fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

pub struct Story {
    pub plan: Plan,
    pub history: Vec<Recorded>,
    pub incident: Incident,
}

impl Story {
    pub fn declare(preset: &str, severity: &str, personal_data: bool, at: Timestamp) -> Story {
        let plan = Plan::parse(presets::find(preset).unwrap().source).unwrap();
        Story::declare_under(plan, severity, personal_data, at)
    }

    pub fn declare_under(plan: Plan, severity: &str, personal_data: bool, at: Timestamp) -> Story {
        let declaration = Declaration {
            title: "Vault key exposed".into(),
            severity: severity.into(),
            personal_data,
            ..Declaration::default()
        };
        let event = declare(&plan, &declaration, at, at).unwrap();
        let history = vec![Recorded {
            at,
            actor: Actor::parse("jo").unwrap(),
            event,
        }];
        let incident = Incident::from_history(IncidentNumber::new(1).unwrap(), &history).unwrap();
        Story {
            plan,
            history,
            incident,
        }
    }

    /// Runs a command at `at` (also "now"), applying its events on success.
    pub fn run(&mut self, command: Command, at: Timestamp) -> Result<Vec<IncidentEvent>, Rejection> {
        self.run_as("ana", command, at)
    }

    /// Runs a command as `who`.
    pub fn run_as(&mut self, who: &str, command: Command, at: Timestamp) -> Result<Vec<IncidentEvent>, Rejection> {
        let actor = Actor::parse(who).unwrap();
        let events = decide(&self.incident, &self.plan, &command, &actor, at, at)?;
        for event in &events {
            let recorded = Recorded {
                at,
                actor: actor.clone(),
                event: event.clone(),
            };
            self.incident.apply(&recorded).unwrap();
            self.history.push(recorded);
        }
        Ok(events)
    }

    pub fn ok(&mut self, command: Command, at: Timestamp) {
        self.run(command.clone(), at)
            .unwrap_or_else(|e| panic!("{command:?} at {at}: {e}"));
    }

    pub fn clocks(&self) -> Vec<Clock> {
        clocks(&self.incident, &self.plan)
    }

    pub fn clock(&self, id: &str) -> Clock {
        self.clocks().into_iter().find(|c| c.id == id).unwrap_or_else(|| {
            panic!(
                "no clock {id} in {:?}",
                self.clocks().iter().map(|c| &c.id).collect::<Vec<_>>()
            )
        })
    }

    pub fn state(&self, id: &str, now: Timestamp) -> ClockState {
        self.clock(id).state(now)
    }
}

pub fn notice(kind: &str) -> Command {
    Command::RecordNotice {
        kind: kind.into(),
        note: None,
    }
}

pub fn severity(to: &str) -> Command {
    Command::ChangeSeverity {
        to: to.into(),
        reason: "reassessed".into(),
    }
}
