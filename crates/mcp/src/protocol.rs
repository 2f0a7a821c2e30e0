//! JSON-RPC 2.0 as MCP uses it: classifying an incoming message, building results and errors,
//! and negotiating the protocol version of the `initialize` handshake.

use serde_json::{Value, json};

/// Protocol versions this server speaks through `initialize`, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The version offered when the client asks for one this server does not speak.
pub const LATEST_VERSION: &str = "2025-11-25";

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The message is not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The parameters are wrong (unknown tool, resource or prompt; missing argument).
pub const INVALID_PARAMS: i64 = -32602;
/// The server failed.
pub const INTERNAL_ERROR: i64 = -32603;

/// What an incoming message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: it gets exactly one response.
    Request {
        /// The request id (a string or a number), echoed in the response.
        id: Value,
        /// The method.
        method: String,
        /// The parameters (`null` when absent).
        params: Value,
    },
    /// A notification: no response.
    Notification {
        /// The method.
        method: String,
    },
    /// A response to a request of ours (the server sends none), ignored.
    Response,
    /// Not a JSON-RPC 2.0 message: the error response to send (id `null` when unknown).
    Invalid(Value),
}

/// Classifies one parsed message.
pub fn classify(message: Value) -> Incoming {
    let Value::Object(mut object) = message else {
        return Incoming::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            "a message must be one JSON-RPC 2.0 object (batches are not supported)",
        ));
    };
    let id = object.remove("id");
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid(error(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "`jsonrpc` must be \"2.0\"",
        ));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => {
            return Incoming::Invalid(error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "`method` must be a string",
            ));
        }
        None if object.contains_key("result") || object.contains_key("error") => {
            return Incoming::Response;
        }
        None => {
            return Incoming::Invalid(error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "the message has no `method`",
            ));
        }
    };
    match id {
        None => Incoming::Notification { method },
        Some(id @ (Value::String(_) | Value::Number(_))) => Incoming::Request {
            id,
            method,
            params: object.remove("params").unwrap_or(Value::Null),
        },
        Some(_) => Incoming::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            "`id` must be a string or a number",
        )),
    }
}

/// Parses one message's text; invalid JSON becomes the parse-error response.
pub fn parse(text: &str) -> Incoming {
    match serde_json::from_str::<Value>(text) {
        Ok(message) => classify(message),
        Err(problem) => Incoming::Invalid(error(
            Value::Null,
            PARSE_ERROR,
            &format!("not JSON: {problem}"),
        )),
    }
}

/// A successful response.
pub fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response.
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The version to answer `initialize` with: the client's when this server speaks it, otherwise
/// the newest this server speaks (the client then decides whether to go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|requested| {
            SUPPORTED_VERSIONS
                .iter()
                .find(|supported| **supported == requested)
        })
        .copied()
        .unwrap_or(LATEST_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_and_malformed_ones_answered() {
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Incoming::Request { method, .. } if method == "ping"
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Incoming::Notification { .. }
        ));
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Incoming::Response
        );
        for bad in [
            "{",
            "[]",
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            "\"text\"",
        ] {
            assert!(matches!(parse(bad), Incoming::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn the_clients_version_is_kept_when_spoken_and_replaced_otherwise() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("1999-01-01")), LATEST_VERSION);
        assert_eq!(negotiate(None), LATEST_VERSION);
    }
}
