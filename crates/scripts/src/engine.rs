//! Runs one script tool call in a fresh QuickJS runtime: the script is evaluated as a classic
//! script (so `import` is a syntax error and there is no module loader for `import()`), then its
//! global `run(args)` is called with the arguments and its return value (a string, or anything
//! JSON can hold; a promise is awaited) is the result.
//!
//! Limits: an interrupt handler stops the script at its time limit, the runtime's allocator
//! refuses past its memory limit, the stack is bounded, and console output and the result are
//! capped. The global object holds the language's built-ins, `console.log`, and only the host
//! functions the manifest grants — written in Rust, so no prototype or `Function` trick reaches a
//! function that was not installed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::function::{Opt, Rest};
use rquickjs::{CaughtError, Context, Ctx, Exception, Function, Object, Promise, Runtime, Value};

use crate::ScriptError;
use crate::host::Host;
use crate::manifest::ScriptTool;
use crate::net::FetchRequest;

/// Most characters of a result (and of console output) a call returns.
pub const OUTPUT_CAP: usize = 30_000;
/// Stack the script may use.
const STACK_BYTES: usize = 512 * 1024;

/// What a call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The value `run` returned, as text (capped).
    pub result: String,
    /// What the script printed with `console.log` (capped).
    pub logs: String,
    /// Bytes the engine held when the call ended (runtime, context, script and its data).
    pub memory_used: u64,
}

impl Output {
    /// The result, preceded by the console output when there was some.
    pub fn to_text(&self) -> String {
        if self.logs.is_empty() {
            self.result.clone()
        } else {
            format!("{}\n[console]\n{}", self.result, self.logs)
        }
    }
}

/// Runs `tool` with `arguments` against `host`, under the tool's limits.
pub fn run(
    tool: &ScriptTool,
    arguments: &serde_json::Value,
    host: Arc<dyn Host>,
) -> Result<Output, ScriptError> {
    check_arguments(&tool.parameters, arguments)?;
    let limits = &tool.permissions;
    let setup = |error: rquickjs::Error| ScriptError::Setup(error.to_string());
    let runtime = Runtime::new().map_err(setup)?;
    let memory_bytes = usize::try_from(limits.memory_mb * 1024 * 1024).unwrap_or(usize::MAX);
    runtime.set_memory_limit(memory_bytes);
    runtime.set_max_stack_size(STACK_BYTES);
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
    {
        let timed_out = Arc::clone(&timed_out);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let late = Instant::now() >= deadline;
            if late {
                timed_out.store(true, Ordering::Relaxed);
            }
            late
        })));
    }
    let context = Context::full(&runtime).map_err(setup)?;
    let arguments = serde_json::to_string(arguments)
        .map_err(|error| ScriptError::InvalidArguments(error.to_string()))?;
    let outcome = context.with(|ctx| -> Result<Output, ScriptError> {
        let logs = Arc::new(std::sync::Mutex::new(String::new()));
        install(&ctx, tool, host, Arc::clone(&logs)).map_err(setup)?;
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(format!("{}.js", tool.name));
        let caught = |error: rquickjs::Error| {
            let caught = CaughtError::from_error(&ctx, error);
            ScriptError::Thrown(describe(&caught))
        };
        ctx.eval_with_options::<(), _>(tool.source.as_bytes(), options)
            .map_err(caught)?;
        let run: Function = ctx
            .globals()
            .get::<_, Value>("run")
            .ok()
            .and_then(|value| value.into_function())
            .ok_or_else(|| {
                ScriptError::Setup(format!(
                    "{} does not define `function run(args)`",
                    tool.script_path.display()
                ))
            })?;
        let parsed = ctx.json_parse(arguments).map_err(caught)?;
        let mut value: Value = run.call((parsed,)).map_err(caught)?;
        if let Some(promise) = value.as_promise().cloned() {
            value = Promise::finish::<Value>(&promise).map_err(caught)?;
        }
        let result = if let Some(text) = value.as_string() {
            text.to_string().map_err(caught)?
        } else if value.is_undefined() {
            String::new()
        } else {
            ctx.json_stringify(value)
                .map_err(caught)?
                .map(|text| text.to_string())
                .transpose()
                .map_err(caught)?
                .unwrap_or_default()
        };
        let logs = logs.lock().map(|logs| logs.clone()).unwrap_or_default();
        Ok(Output {
            result: cap(&result),
            logs,
            memory_used: 0,
        })
    });
    let outcome = outcome.map(|output| Output {
        memory_used: u64::try_from(runtime.memory_usage().memory_used_size).unwrap_or(0),
        ..output
    });
    match outcome {
        Err(_) if timed_out.load(Ordering::Relaxed) => {
            Err(ScriptError::TimedOut(limits.timeout_ms))
        }
        Err(ScriptError::Thrown(message)) if message.contains("out of memory") => {
            Err(ScriptError::OutOfMemory(limits.memory_mb))
        }
        Err(ScriptError::Setup(message)) if message.contains("out of memory") => {
            Err(ScriptError::OutOfMemory(limits.memory_mb))
        }
        other => other,
    }
}

/// Message and first stack line of a caught exception.
fn describe(caught: &CaughtError<'_>) -> String {
    match caught {
        CaughtError::Exception(exception) => {
            let name = exception
                .get::<_, Option<String>>("name")
                .ok()
                .flatten()
                .unwrap_or_else(|| "Error".to_owned());
            let message = format!("{name}: {}", exception.message().unwrap_or_default());
            let place = exception
                .stack()
                .and_then(|stack| stack.lines().next().map(|line| line.trim().to_owned()))
                .unwrap_or_default();
            if place.is_empty() {
                message
            } else {
                format!("{message} ({place})")
            }
        }
        other => other.to_string(),
    }
}

/// Cuts `text` to [`OUTPUT_CAP`] characters, saying so.
fn cap(text: &str) -> String {
    let total = text.chars().count();
    if total <= OUTPUT_CAP {
        return text.to_owned();
    }
    let kept: String = text.chars().take(OUTPUT_CAP).collect();
    format!("{kept}\n[… script output cut: showed {OUTPUT_CAP} of {total} characters]")
}

/// Refuses arguments that are not an object or lack a required property.
fn check_arguments(
    parameters: &serde_json::Value,
    arguments: &serde_json::Value,
) -> Result<(), ScriptError> {
    let Some(object) = arguments.as_object() else {
        return Err(ScriptError::InvalidArguments(
            "the arguments must be a JSON object".to_owned(),
        ));
    };
    let required = parameters
        .get("required")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str);
    for key in required {
        if !object.contains_key(key) {
            return Err(ScriptError::InvalidArguments(format!(
                "`{key}` is required"
            )));
        }
    }
    Ok(())
}

fn throw(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, message)
}

/// Installs `console` and the granted host functions on the global object.
fn install<'js>(
    ctx: &Ctx<'js>,
    tool: &ScriptTool,
    host: Arc<dyn Host>,
    logs: Arc<std::sync::Mutex<String>>,
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    let console = Object::new(ctx.clone())?;
    let log = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, parts: Rest<Value<'js>>| {
            let mut line = Vec::new();
            for part in parts.0 {
                line.push(match part.as_string() {
                    Some(text) => text.to_string()?,
                    None => ctx
                        .json_stringify(part)?
                        .map(|text| text.to_string())
                        .transpose()?
                        .unwrap_or_else(|| "undefined".to_owned()),
                });
            }
            if let Ok(mut logs) = logs.lock() {
                append_capped(&mut logs, &line.join(" "));
            }
            Ok::<_, rquickjs::Error>(())
        },
    )?;
    console.set("log", log.clone())?;
    console.set("error", log)?;
    globals.set("console", console)?;

    let permissions = &tool.permissions;
    let readable = !permissions.read.is_empty() || !permissions.write.is_empty();
    if readable {
        let fs = Object::new(ctx.clone())?;
        let reader = Arc::clone(&host);
        fs.set(
            "read",
            Function::new(ctx.clone(), move |ctx: Ctx<'js>, path: String| {
                reader.read(&path).map_err(|error| throw(&ctx, &error))
            })?,
        )?;
        let lister = Arc::clone(&host);
        fs.set(
            "list",
            Function::new(ctx.clone(), move |ctx: Ctx<'js>, path: Opt<String>| {
                let path = path.0.unwrap_or_else(|| ".".to_owned());
                lister.list(&path).map_err(|error| throw(&ctx, &error))
            })?,
        )?;
        if !permissions.write.is_empty() {
            let writer = Arc::clone(&host);
            fs.set(
                "write",
                Function::new(
                    ctx.clone(),
                    move |ctx: Ctx<'js>, path: String, text: String| {
                        writer
                            .write(&path, &text)
                            .map_err(|error| throw(&ctx, &error))
                    },
                )?,
            )?;
        }
        globals.set("fs", fs)?;
    }
    if !permissions.allow.is_empty() {
        let fetcher = Arc::clone(&host);
        let fetch = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, url: String, options: Opt<Value<'js>>| {
                let mut request = match options.0.filter(|value| value.is_object()) {
                    Some(options) => {
                        let json = ctx
                            .json_stringify(options)?
                            .map(|text| text.to_string())
                            .transpose()?
                            .unwrap_or_else(|| "{}".to_owned());
                        serde_json::from_str::<FetchRequest>(&json)
                            .map_err(|error| throw(&ctx, &format!("fetch options: {error}")))?
                    }
                    None => FetchRequest::default(),
                };
                request.url = url;
                let response = fetcher
                    .fetch(&request)
                    .map_err(|error| throw(&ctx, &error))?;
                let json = serde_json::to_string(&response)
                    .map_err(|error| throw(&ctx, &error.to_string()))?;
                ctx.json_parse(json)
            },
        )?;
        globals.set("fetch", fetch)?;
    }
    if permissions.memory {
        let memory = Object::new(ctx.clone())?;
        let searcher = Arc::clone(&host);
        memory.set(
            "search",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>, query: String, limit: Opt<f64>| {
                    let limit = limit.0.map_or(5, |limit| limit.clamp(1.0, 50.0) as usize);
                    let found = searcher
                        .memory_search(&query, limit)
                        .map_err(|error| throw(&ctx, &error))?;
                    ctx.json_parse(found.to_string())
                },
            )?,
        )?;
        globals.set("memory", memory)?;
    }
    Ok(())
}

/// Appends a console line, stopping at [`OUTPUT_CAP`] characters with a note.
fn append_capped(logs: &mut String, line: &str) {
    const NOTE: &str = "[… console output cut]";
    if logs.ends_with(NOTE) {
        return;
    }
    let room = OUTPUT_CAP.saturating_sub(logs.chars().count());
    if line.chars().count() < room {
        logs.push_str(line);
        logs.push('\n');
    } else {
        logs.extend(line.chars().take(room));
        logs.push('\n');
        logs.push_str(NOTE);
    }
}
