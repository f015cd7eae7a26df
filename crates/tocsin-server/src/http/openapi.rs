//! The OpenAPI 3.1 document, generated from the handlers and their types.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{self, admin, audits, blocks, events, evidence, notices, plans, probes, ratelimit, runs, switches};
use super::error;
use crate::documents;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tocsin",
        description = "Security incident response: incidents, their clocks and timeline, and the audit chain. \
            Authenticate with an API token (`Authorization: Bearer tocsin_...`) whose scopes name what it may do, \
            or with a browser session cookie plus the `x-csrf-token` header on changes. Errors are \
            `{\"error\":{\"code\",\"message\",\"details\"}}`. Lists are paged: pass `next_cursor` back as `cursor`.",
        license(name = "AGPL-3.0-only")
    ),
    paths(
        api::list_incidents, api::declare_incident, api::get_incident, api::act_on_incident,
        api::get_timeline, api::get_clocks, api::list_open_clocks, api::verify, api::list_audit_entries,
        plans::get_plan, plans::plan_versions, plans::apply_plan, api::me,
        admin::list_users, admin::add_user, admin::change_user, admin::list_tokens, admin::create_token,
        admin::revoke_token, admin::list_logins,
        events::post_events, events::list_events, events::get_event, events::list_signals, ratelimit::check,
        blocks::list_blocks, blocks::add_block, blocks::remove_block, blocks::export_blocks,
        runs::list_actions, runs::list_runs, runs::get_run, runs::request_run, runs::approve_run, runs::reject_run,
        runs::undo_run,
        switches::maintenance, switches::maintenance_on, switches::maintenance_off, switches::directive,
        switches::paused_agents, switches::pause_agent, switches::resume_agent,
        evidence::list_evidence, evidence::add_evidence, evidence::get_evidence, evidence::verify_evidence,
        notices::list_notices, notices::get_notice, notices::draft_notice, notices::revise_notice,
        notices::approve_notice, notices::send_notice, notices::notice_document, notices::list_recipients,
        notices::add_recipients, notices::remove_recipients, notices::breaches,
        probes::list_probes, probes::get_probe, probes::run_probe,
        audits::list_audits, audits::get_audit, audits::run_audit,
    ),
    components(schemas(error::ErrorBody, documents::IncidentDoc)),
    modifiers(&Security),
    tags(
        (name = "incidents", description = "Declare, work and read incidents"),
        (name = "clocks", description = "The plan's deadlines"),
        (name = "audit", description = "The tamper-evident record"),
        (name = "plan", description = "The plan in force"),
        (name = "identity", description = "Users, tokens and logins"),
        (name = "events", description = "Events from applications and logs, and the signals detectors find in them"),
        (name = "notices", description = "Notices to customers, the supervisory authority and data subjects: drafted from the plan's templates, checked, approved, sent to the incident's recipients"),
        (name = "daily_audit", description = "The daily security audit: its eight checks' reports, with what changed since the last, and a run now"),
        (name = "probes", description = "The plan's uptime probes: where each stands, its history, a run now"),
        (name = "containment", description = "The plan's actions and their runs; blocked addresses and networks, which bouncers and the rate-limit service obey; maintenance mode and paused agents"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::SESSION_COOKIE))),
        );
    }
}

/// The document as pretty JSON, the form committed under `docs/openapi.json`.
pub fn document() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().expect("the document serializes");
    text.push('\n');
    text
}
