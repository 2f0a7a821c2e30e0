//! LocalGPT's configuration: the schema ([`Config`]), the loader with its user-facing errors, the
//! starter file written by `config init`, and key-level get/set for the CLI.

pub mod budget;
pub mod edit;
pub mod expand;
mod key_at;
pub mod keys;
pub mod load;
pub mod schema;
pub mod template;
pub mod values;

pub use load::{ConfigError, ConfigWarning, LoadedConfig, WarningKind, load, parse, process_env};
pub use schema::*;
pub use values::{ActiveHours, ByteSize, Duration, Secret, TimeOfDay};
