//! The Telegram gateway (SPEC §10): Telegram messages enter the ingress bus like every other
//! input, with the sender's Telegram user id as their authenticated identity.

mod api;
mod gateway;
mod limit;
mod state;

pub use api::{BotApi, TelegramError};
pub use gateway::{Health, TelegramGateway};
pub use limit::StrangerLimit;
pub use state::ChatState;
