//! The Telegram bot: responders act from the chat. Each Telegram channel of the plan is
//! polled with `getUpdates` (no public address needed); commands (`/ack INC-7`, `/status`,
//! `/incidents`, `/help`) and the Acknowledge button act on incidents under the name of the
//! person who sent them. Only the channel's chat, or the people the plan allows, may act.
//! One instance polls (Telegram serves one poller per bot); the others stand by.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, Command as DeskCommand, IncidentNumber, Status};
use tocsin_core::plan::{Channel as PlanChannel, ChannelKind, Plan};
use tocsin_notify::escape;
use tocsin_notify::telegram::{Command, Telegram, Update, User};
use tocsin_store::IncidentFilter;
use tocsin_store::InstanceStore;
use tocsin_store::duty::Duty;
use tocsin_store::outbox::OutboxStore;
use tocsin_store::signals::SignalStore;

use crate::phrases::due as due_text;
use crate::services::actions::Actions;
use crate::services::incidents::next_deadlines;
use crate::workers::store_view;
use crate::{Desk, DeskError};

store_view! {
    /// What the bots need: their duty, and their cursors kept beside the outbox.
    BotStore: InstanceStore, SignalStore, OutboxStore
}

/// How long a standby waits before asking for the lead again, and a poller after an error.
const PAUSE: Duration = Duration::from_secs(5);

/// The cursor (the next update id) of a channel's updates.
fn cursor(channel: &str) -> String {
    format!("telegram:{channel}")
}

/// Polls every Telegram channel of the plan while this instance leads the bots, until the
/// process ends.
pub async fn follow<S: BotStore + ?Sized>(
    store: Arc<S>,
    desk: Desk,
    actions: Arc<Actions>,
    public_url: Option<String>,
) {
    let plan = &desk.plan();
    let client = tocsin_notify::http_client(crate::workers::channels::SEND_TIMEOUT);
    let mut bots = Vec::new();
    for channel in plan.channels().iter().filter(|c| c.kind == ChannelKind::Telegram) {
        match crate::workers::channels::telegram(channel, client.clone()) {
            Ok(bot) => bots.push((channel.clone(), bot)),
            // The delivery workers report it too; its commands wait for a fix.
            Err(e) => tracing::error!(channel = %channel.name, "the Telegram bot cannot start: {e}"),
        }
    }
    if bots.is_empty() {
        return;
    }
    let mut said = false;
    loop {
        let mut lead = match store.take_duty(Duty::Bot).await {
            Ok(Some(lead)) => lead,
            Ok(None) => {
                if !said {
                    tracing::info!("another instance polls the Telegram bots; this one stands by");
                    said = true;
                }
                tokio::time::sleep(PAUSE).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ask for the lead of the Telegram bots");
                tokio::time::sleep(PAUSE).await;
                continue;
            }
        };
        tracing::info!(bots = bots.len(), "this instance polls the Telegram bots");
        let polls = futures_util::future::join_all(
            bots.iter()
                .map(|(channel, bot)| poll(&*store, &desk, &actions, channel, bot, public_url.as_deref())),
        );
        let held = async {
            while lead.held().await {
                tokio::time::sleep(PAUSE).await;
            }
        };
        tokio::select! {
            _ = polls => return,
            () = held => tracing::warn!("the lead of the Telegram bots was lost with its database connection"),
        }
    }
}

/// Takes the channel's updates as they come, forever; the cursor moves after each batch.
async fn poll(
    store: &(impl BotStore + ?Sized),
    desk: &Desk,
    actions: &Actions,
    channel: &PlanChannel,
    bot: &Telegram,
    public_url: Option<&str>,
) {
    let name = cursor(&channel.name);
    loop {
        let offset = match store.event_cursor(&name).await {
            Ok(offset) => offset as i64,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the Telegram cursor");
                tokio::time::sleep(PAUSE).await;
                continue;
            }
        };
        let updates = match bot.updates(offset).await {
            Ok(updates) => updates,
            Err(e) => {
                tracing::warn!(channel = %channel.name, error = %e, "getUpdates failed; asking again");
                tokio::time::sleep(e.retry_after.unwrap_or(PAUSE)).await;
                continue;
            }
        };
        let Some(last) = updates.last().map(|u| u.update_id) else {
            continue;
        };
        for update in &updates {
            handle(desk, actions, channel, bot, update, public_url).await;
        }
        // A crash before this line hands the batch over again: acknowledging twice is
        // refused as done already, and a reply is repeated at worst.
        if let Err(e) = store
            .enqueue_following(&name, (last + 1) as u64, &[], Timestamp::now())
            .await
        {
            tracing::error!(error = %e, "cannot save the Telegram cursor");
        }
    }
}

/// Who may act: anyone in the channel's chat, or only its `users` when it lists them; in a
/// private chat with the bot, those users and the plan's people with a Telegram id.
fn allowed(plan: &Plan, channel: &PlanChannel, chat: i64, user: &User) -> bool {
    let in_chat = channel.chat.as_deref() == Some(chat.to_string().as_str());
    let listed = channel.users.contains(&user.id);
    let known = plan.people().iter().any(|p| p.telegram == Some(user.id));
    match in_chat {
        true => channel.users.is_empty() || listed,
        false => chat == user.id && (listed || known),
    }
}

/// The name a Telegram user acts under: theirs in the plan, else their Telegram name.
fn actor(plan: &Plan, user: &User) -> Actor {
    let name = match plan.people().iter().find(|p| p.telegram == Some(user.id)) {
        Some(person) => person.id.clone(),
        None => user.display().chars().take(64).collect(),
    };
    Actor::parse(&name).unwrap_or_else(|_| Actor::parse(&format!("telegram user {}", user.id)).expect("a valid name"))
}

async fn handle(
    desk: &Desk,
    actions: &Actions,
    channel: &PlanChannel,
    bot: &Telegram,
    update: &Update,
    public_url: Option<&str>,
) {
    let plan = &desk.plan();
    if let Some(press) = &update.callback_query {
        let Some(message) = &press.message else {
            let _ = bot
                .answer_callback(&press.id, "This message is too old to act on")
                .await;
            return;
        };
        let data = press.data.as_deref().unwrap_or_default();
        let answer = match data.strip_prefix("ack:") {
            _ if !allowed(plan, channel, message.chat.id, &press.from) => {
                tracing::warn!(
                    user = press.from.id,
                    chat = message.chat.id,
                    "a Telegram user who may not act pressed a button"
                );
                "You may not act on incidents from here".to_owned()
            }
            Some(incident) => {
                let (done, text) = acknowledge(desk, incident, &actor(plan, &press.from)).await;
                if done {
                    // The button did its work: only the link stays.
                    let kept = links_only(message.reply_markup.as_ref());
                    if let Err(e) = bot.set_keyboard(message.chat.id, message.message_id, kept).await {
                        tracing::warn!(error = %e, "cannot remove the Acknowledge button");
                    }
                }
                text
            }
            None => match data.strip_prefix("approve:").and_then(|rest| rest.rsplit_once(':')) {
                Some((incident, run)) => {
                    let (done, text) = approve(actions, incident, run, &actor(plan, &press.from)).await;
                    if done {
                        let kept = links_only(message.reply_markup.as_ref());
                        if let Err(e) = bot.set_keyboard(message.chat.id, message.message_id, kept).await {
                            tracing::warn!(error = %e, "cannot remove the Approve button");
                        }
                    }
                    text
                }
                None => "Unknown button".to_owned(),
            },
        };
        if let Err(e) = bot.answer_callback(&press.id, &answer).await {
            tracing::warn!(error = %e, "cannot answer a button press");
        }
        return;
    }
    let Some(message) = &update.message else { return };
    let (Some(text), Some(from)) = (&message.text, &message.from) else {
        return;
    };
    if from.is_bot {
        return;
    }
    let Some(command) = Command::parse(text) else { return };
    let reply = match command.name.as_str() {
        "start" | "help" => help(message.chat.id, from),
        _ if !allowed(plan, channel, message.chat.id, from) => {
            tracing::warn!(
                user = from.id,
                chat = message.chat.id,
                "a Telegram user who may not act sent a command"
            );
            format!(
                "You may not act on incidents from here. Your Telegram user id is <code>{}</code> and this chat's id is <code>{}</code>: ask whoever keeps the plan to add one of them.",
                from.id, message.chat.id
            )
        }
        "ack" | "acknowledge" => match command.args.first() {
            Some(incident) => escape(&acknowledge(desk, incident, &actor(plan, from)).await.1),
            None => "Which incident? Like <code>/ack INC-7</code>".to_owned(),
        },
        "status" => match command.args.first() {
            Some(incident) => status(desk, incident, public_url).await,
            None => incidents(desk).await,
        },
        "incidents" => incidents(desk).await,
        other => format!("Unknown command /{}. {}", escape(other), COMMANDS),
    };
    let chat = message.chat.id.to_string();
    if let Err(e) = bot.send_html(&chat, &reply, None, Some(message.message_id)).await {
        tracing::warn!(error = %e, "cannot answer a Telegram command");
    }
}

const COMMANDS: &str =
    "Commands: /incidents (open incidents), /status INC-7 (one incident), /ack INC-7 (acknowledge it).";

fn help(chat: i64, from: &User) -> String {
    format!(
        "tocsin tells this chat about security incidents. {COMMANDS}\nYour Telegram user id is <code>{}</code>; this chat's id is <code>{chat}</code>.",
        from.id
    )
}

/// Acknowledges `incident` as `actor`: whether it was done, and what to tell them.
pub(crate) async fn acknowledge(desk: &Desk, incident: &str, actor: &Actor) -> (bool, String) {
    let Ok(number) = incident.parse::<IncidentNumber>() else {
        return (false, format!("\"{incident}\" is not an incident; write it like INC-7"));
    };
    let now = Timestamp::now();
    match desk.act(number, &DeskCommand::Acknowledge, actor, None, now).await {
        Ok(_) => (true, format!("{number} acknowledged by {actor}")),
        Err(DeskError::Rejected(why)) => (false, format!("{number}: {}", why.message)),
        Err(DeskError::NotFound(_)) => (false, format!("There is no incident {number}")),
        Err(e) => {
            tracing::error!(error = %e, "acknowledging from Telegram failed");
            (false, format!("{number} could not be acknowledged now; try again"))
        }
    }
}

/// Approves run `run` of `incident` as the person who pressed, as the plan allows them.
pub(crate) async fn approve(actions: &Actions, incident: &str, run: &str, actor: &Actor) -> (bool, String) {
    let (Ok(number), Ok(run)) = (incident.parse::<IncidentNumber>(), run.parse::<u32>()) else {
        return (false, "This button names no run".to_owned());
    };
    match actions.approve(number, run, actor, Timestamp::now()).await {
        Ok(r) if r.state == tocsin_core::incident::RunState::AwaitingApproval => (
            true,
            format!(
                "Approved run {run} of {number}; it waits for {} more",
                r.needs as usize - r.approvals.len()
            ),
        ),
        Ok(_) => (true, format!("Approved run {run} of {number}; it runs now")),
        Err(DeskError::Rejected(why)) => (false, format!("{number}: {}", why.message)),
        Err(DeskError::NotFound(_)) => (false, format!("There is no incident {number}")),
        Err(e) => {
            tracing::error!(error = %e, "approving from Telegram failed");
            (
                false,
                format!("Run {run} of {number} could not be approved now; try again"),
            )
        }
    }
}

/// The open incidents, most urgent deadline first shown beside each.
async fn incidents(desk: &Desk) -> String {
    let filter = IncidentFilter {
        statuses: vec![Status::Declared, Status::Acknowledged],
        limit: Some(20),
        ..IncidentFilter::default()
    };
    let (list, open) = match (desk.incidents(&filter).await, desk.open_clocks().await) {
        (Ok(list), Ok(open)) => (list, open),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "listing incidents for Telegram failed");
            return "The incidents cannot be read now; try again".into();
        }
    };
    if list.is_empty() {
        return "No open incidents.".into();
    }
    let next = next_deadlines(&open);
    let plan = desk.plan();
    let zone = plan.calendar().zone();
    let now = Timestamp::now();
    let mut lines = vec![format!("<b>Open incidents</b> ({})", list.len())];
    for i in list.iter() {
        let mut line = format!(
            "{} · {} · {} · {}",
            i.number,
            escape(&i.severity),
            i.status.as_str(),
            escape(&i.title)
        );
        if let Some(clock) = next.get(&i.number)
            && let Some(due) = clock.due_at
        {
            line.push_str(&format!("\n   ⏰ {}", escape(&due_text(&clock.name, due, now, zone))));
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// One incident: severity, state, owner, and its open clocks.
async fn status(desk: &Desk, incident: &str, public_url: Option<&str>) -> String {
    let Ok(number) = incident.parse::<IncidentNumber>() else {
        return format!("\"{}\" is not an incident; write it like INC-7", escape(incident));
    };
    let view = match desk.incident_shared(number).await {
        Ok(view) => view,
        Err(DeskError::NotFound(_)) => return format!("There is no incident {number}"),
        Err(e) => {
            tracing::error!(error = %e, "reading an incident for Telegram failed");
            return "The incident cannot be read now; try again".into();
        }
    };
    let i = &view.incident;
    let plan = desk.plan();
    let zone = plan.calendar().zone();
    let now = Timestamp::now();
    let mut lines = vec![
        format!(
            "<b>{} · {} · {}</b>",
            i.number,
            escape(i.severity.as_str()),
            escape(&i.title)
        ),
        format!(
            "{} · owner {}",
            i.status.as_str(),
            escape(i.owner.as_deref().unwrap_or("none yet"))
        ),
    ];
    for clock in view.clocks.iter().filter(|c| c.open) {
        if let Some(due) = clock.due_at {
            lines.push(format!("⏰ {}", escape(&due_text(&clock.name, due, now, zone))));
        }
    }
    if let Some(base) = public_url {
        lines.push(escape(&format!("{}/incidents/{number}", base.trim_end_matches('/'))));
    }
    lines.join("\n")
}

/// A message's buttons without those that act (callback buttons): the links stay.
fn links_only(markup: Option<&Value>) -> Option<Value> {
    let rows = markup?["inline_keyboard"].as_array()?;
    let kept: Vec<Value> = rows
        .iter()
        .filter_map(|row| {
            let buttons: Vec<Value> = row
                .as_array()?
                .iter()
                .filter(|b| b.get("callback_data").is_none())
                .cloned()
                .collect();
            (!buttons.is_empty()).then_some(Value::Array(buttons))
        })
        .collect();
    (!kept.is_empty()).then(|| serde_json::json!({"inline_keyboard": kept}))
}
