//! Starts the Telegram gateway when `[telegram] bot_token` is set: messages from `owner_ids` are the
//! owner's, anyone else's are untrusted (the control plane decides, from the user id).

use std::sync::Arc;

use localgpt_agent::control::{ApprovalDesk, IngressBus};
use localgpt_server::telegram::{BotApi, ChatState, TelegramGateway};

use super::delivery;
use crate::app::App;

/// The gateway for this home, or `None` without a bot token.
pub fn gateway(
    app: &App,
    bus: &IngressBus,
    desk: &Arc<ApprovalDesk>,
) -> anyhow::Result<Option<Arc<TelegramGateway>>> {
    let config = &app.config.telegram;
    let Some(token) = config
        .bot_token
        .clone()
        .filter(|token| !token.expose().trim().is_empty())
    else {
        return Ok(None);
    };
    if config.owner_ids.is_empty() {
        tracing::warn!(
            "telegram.owner_ids is empty: every Telegram message is treated as untrusted"
        );
    }
    let api = BotApi::new(&config.api_url, token)?;
    let state = ChatState::open(app.paths.state_dir().join("telegram.json"));
    let gateway = TelegramGateway::new(api, bus.clone(), config.owner_ids.clone(), state)
        .with_approvals(Arc::clone(desk))
        .with_event_log(delivery::event_log(app));
    Ok(Some(Arc::new(gateway)))
}
