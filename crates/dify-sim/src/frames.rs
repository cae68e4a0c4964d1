//! The frames of one reply, shaped like Dify 1.12's web-app stream.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::{ConfigError, SimConfig};
use crate::json::to_json;
use crate::records::{MessageRecord, RunRecord};
use crate::usage::{self, Usage};

/// Which streaming endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiKind {
    Chat,
    Completion,
    Workflow,
}

/// What the reply needs from the request body.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    pub kind: ApiKind,
    pub query: String,
    /// The id the client sent; a new conversation when `None`.
    pub conversation_id: Option<String>,
    pub inputs: Value,
}

/// A reply, as the JSON payloads of its `data:` frames.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub conversation_id: Option<String>,
    pub run_id: Option<String>,
    pub frames: Vec<String>,
    /// Dify's stored record of a chat message.
    pub record: Option<MessageRecord>,
    /// Dify's stored record of the workflow run (a workflow app's, or a chatflow reply's).
    pub run: Option<RunRecord>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write a frame: {0}")]
    Json(#[from] serde_json::Error),
}

/// Fields every frame of one reply starts with.
#[derive(Debug, Serialize)]
struct Head {
    /// Completion and workflow apps have no conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<u64>,
    task_id: String,
}

#[derive(Serialize)]
struct Frame<'a> {
    event: &'static str,
    #[serde(flatten)]
    head: &'a Head,
    #[serde(flatten)]
    body: Body<'a>,
}

/// An empty JSON object.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Message {
        id: &'a str,
        answer: &'a str,
        from_variable_selector: (),
    },
    MessageEnd {
        id: &'a str,
        metadata: Metadata<'a>,
        files: (),
    },
    Error {
        code: &'static str,
        message: &'a str,
        status: u16,
    },
    Workflow {
        workflow_run_id: &'a str,
        data: Data<'a>,
    },
}

#[derive(Serialize)]
struct Metadata<'a> {
    annotation_reply: (),
    retriever_resources: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    WorkflowStarted {
        id: &'a str,
        workflow_id: &'a str,
        inputs: &'a Value,
        created_at: u64,
    },
    NodeStarted {
        #[serde(flatten)]
        node: &'a Node,
        extras: Empty,
    },
    // The web app gets no model name: process_data and outputs stay null.
    NodeFinished {
        #[serde(flatten)]
        node: &'a Node,
        process_data: (),
        outputs: (),
        status: &'static str,
        error: (),
        elapsed_time: f64,
        execution_metadata: Option<NodeUsage<'a>>,
        finished_at: u64,
        files: [(); 0],
    },
    TextChunk {
        text: &'a str,
        from_variable_selector: [&'static str; 2],
    },
    WorkflowFinished {
        id: &'a str,
        workflow_id: &'a str,
        status: &'static str,
        outputs: (),
        error: (),
        elapsed_time: f64,
        total_tokens: u64,
        total_steps: u32,
        created_at: u64,
        finished_at: u64,
        exceptions_count: u32,
        files: [(); 0],
    },
}

#[derive(Serialize)]
struct Node {
    id: String,
    node_id: &'static str,
    node_type: &'static str,
    title: &'static str,
    index: u32,
    predecessor_node_id: Option<&'static str>,
    inputs: (),
    created_at: u64,
}

#[derive(Serialize)]
struct NodeUsage<'a> {
    total_tokens: u64,
    total_price: &'a str,
    currency: &'static str,
}

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The reply text: the configured answer, or an echo of the query.
pub(crate) fn answer_for(config: &SimConfig, query: &str) -> String {
    if let Some(answer) = &config.answer {
        return answer.clone();
    }
    let query = query.trim();
    if query.is_empty() {
        "Hello! This is a simulated reply from dify-sim.".to_owned()
    } else if query.chars().any(is_cjk) {
        format!("收到：「{query}」。这是 dify-sim 的模拟回复，TokenDesk 会为它计费。")
    } else {
        format!(
            "You asked: \"{query}\". This is a simulated reply from dify-sim, metered by TokenDesk."
        )
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// Cuts `text` into at most `pieces` runs of about equal character counts.
fn split_pieces(text: &str, pieces: usize) -> Vec<&str> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    let n = pieces.clamp(1, chars.max(1));
    (0..n)
        .map(|i| &text[bounds[i * chars / n]..bounds[(i + 1) * chars / n]])
        .collect()
}

/// Collects a reply's frames in the configured JSON style.
struct Script<'a> {
    config: &'a SimConfig,
    head: Head,
    frames: Vec<String>,
}

impl Script<'_> {
    fn push(&mut self, event: &'static str, body: Body<'_>) -> serde_json::Result<()> {
        let frame = Frame {
            event,
            head: &self.head,
            body,
        };
        self.frames.push(to_json(&frame, self.config.json_style)?);
        Ok(())
    }
}

/// Builds the full frame sequence for one request under `config`.
/// Panic-free for any config; the server validates knobs before calling it.
pub(crate) fn build_reply(config: &SimConfig, ask: &Ask) -> Result<Reply, ReplyError> {
    let answer = answer_for(config, &ask.query);
    let pieces = split_pieces(&answer, config.pieces);
    let created_at = now();
    let is_workflow_app = ask.kind == ApiKind::Workflow;
    let runs_workflow = is_workflow_app || (ask.kind == ApiKind::Chat && config.chatflow);

    let millis = config.first_byte_delay_ms.saturating_add(
        config
            .frame_delay_ms
            .saturating_mul(pieces.len() as u64 - 1),
    );
    let latency = millis as f64 / 1000.0;
    let prices = if config.unpriced {
        None
    } else {
        Some(config.prices()?)
    };
    let usage = Usage::new(
        usage::prompt_tokens(config, &ask.query),
        usage::completion_tokens(config, &answer),
        prices,
        latency,
    )?;
    let reported_usage = !config.omit_usage;

    let message_id = (!is_workflow_app).then(new_id);
    let conversation_id = match ask.kind {
        ApiKind::Chat => Some(
            ask.conversation_id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(new_id),
        ),
        ApiKind::Completion | ApiKind::Workflow => None,
    };
    let run_id = runs_workflow.then(new_id);
    let workflow_id = new_id();
    // The graph a run walks; a workflow app ends in an End node, a chatflow in an Answer node.
    let graph = [
        ("start", "start", "Start"),
        ("llm", "llm", "LLM"),
        if is_workflow_app {
            ("end", "end", "End")
        } else {
            ("answer", "answer", "Answer")
        },
    ];
    let nodes: Vec<Node> = graph
        .iter()
        .enumerate()
        .map(|(i, &(node_id, node_type, title))| Node {
            id: new_id(),
            node_id,
            node_type,
            title,
            index: i as u32 + 1,
            predecessor_node_id: i.checked_sub(1).map(|p| graph[p].0),
            inputs: (),
            created_at,
        })
        .collect();

    let mut script = Script {
        config,
        head: Head {
            conversation_id: conversation_id.clone(),
            message_id: message_id.clone(),
            created_at: (!is_workflow_app).then_some(created_at),
            task_id: new_id(),
        },
        frames: Vec::new(),
    };
    let run = run_id.as_deref().unwrap_or_default();
    let message = message_id.as_deref().unwrap_or_default();
    let workflow = |data| Body::Workflow {
        workflow_run_id: run,
        data,
    };
    let node_finished = |node, execution_metadata| {
        workflow(Data::NodeFinished {
            node,
            process_data: (),
            outputs: (),
            status: "succeeded",
            error: (),
            elapsed_time: latency,
            execution_metadata,
            finished_at: created_at,
            files: [],
        })
    };

    'frames: {
        if runs_workflow {
            script.push(
                "workflow_started",
                workflow(Data::WorkflowStarted {
                    id: run,
                    workflow_id: &workflow_id,
                    inputs: &ask.inputs,
                    created_at,
                }),
            )?;
            script.push(
                "node_started",
                workflow(Data::NodeStarted {
                    node: &nodes[0],
                    extras: Empty {},
                }),
            )?;
            script.push("node_finished", node_finished(&nodes[0], None))?;
            script.push(
                "node_started",
                workflow(Data::NodeStarted {
                    node: &nodes[1],
                    extras: Empty {},
                }),
            )?;
        }

        let message_event = if config.agent_mode {
            "agent_message"
        } else {
            "message"
        };
        for (i, piece) in pieces.iter().enumerate() {
            if is_workflow_app {
                script.push(
                    "text_chunk",
                    workflow(Data::TextChunk {
                        text: piece,
                        from_variable_selector: ["llm", "text"],
                    }),
                )?;
            } else {
                script.push(
                    message_event,
                    Body::Message {
                        id: message,
                        answer: piece,
                        from_variable_selector: (),
                    },
                )?;
            }
            if i == 0
                && let Some(error) = &config.error_frame
            {
                script.push(
                    "error",
                    Body::Error {
                        code: "completion_request_error",
                        message: error,
                        status: 400,
                    },
                )?;
                break 'frames;
            }
        }
        if config.omit_message_end {
            break 'frames;
        }

        if runs_workflow {
            let node_usage = reported_usage.then(|| NodeUsage {
                total_tokens: usage.total_tokens,
                total_price: &usage.total_price,
                currency: usage.currency,
            });
            script.push("node_finished", node_finished(&nodes[1], node_usage))?;
            script.push(
                "node_started",
                workflow(Data::NodeStarted {
                    node: &nodes[2],
                    extras: Empty {},
                }),
            )?;
            script.push("node_finished", node_finished(&nodes[2], None))?;
            script.push(
                "workflow_finished",
                workflow(Data::WorkflowFinished {
                    id: run,
                    workflow_id: &workflow_id,
                    status: "succeeded",
                    outputs: (),
                    error: (),
                    elapsed_time: latency,
                    total_tokens: if reported_usage {
                        usage.total_tokens
                    } else {
                        0
                    },
                    total_steps: 3,
                    created_at,
                    finished_at: created_at,
                    exceptions_count: 0,
                    files: [],
                }),
            )?;
        }
        if !is_workflow_app {
            let with_usage =
                reported_usage && (ask.kind != ApiKind::Completion || config.completion_usage);
            script.push(
                "message_end",
                Body::MessageEnd {
                    id: message,
                    metadata: Metadata {
                        annotation_reply: (),
                        retriever_resources: [],
                        usage: with_usage.then_some(&usage),
                    },
                    files: (),
                },
            )?;
        }
        if config.duplicate_message_end
            && let Some(last) = script.frames.last().cloned()
        {
            script.frames.push(last);
        }
    }
    let run = run_id.clone().map(|id| RunRecord {
        id,
        message_id: message_id.clone(),
        conversation_id: conversation_id.clone(),
        total_tokens: usage.total_tokens,
        created_at,
    });
    let record = message_id
        .zip(conversation_id.clone())
        .map(|(id, conversation_id)| MessageRecord {
            id,
            conversation_id,
            query: ask.query.clone(),
            answer,
            usage,
            created_at,
        });
    Ok(Reply {
        conversation_id,
        run_id,
        frames: script.frames,
        record,
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_on_char_boundaries() {
        assert_eq!(split_pieces("abcdef", 3), ["ab", "cd", "ef"]);
        assert_eq!(split_pieces("你好世界", 3), ["你", "好", "世界"]);
        assert_eq!(split_pieces("ab", 5), ["a", "b"]);
        assert_eq!(split_pieces("", 4), [""]);
    }

    #[test]
    fn default_answer_follows_the_query_language() {
        let config = SimConfig::default();
        assert!(answer_for(&config, "hello").contains("\"hello\""));
        let chinese = answer_for(&config, "你好吗");
        assert!(chinese.contains("你好吗") && chinese.contains("模拟回复"));
    }

    fn events(config: &SimConfig, kind: ApiKind) -> Vec<String> {
        let ask = Ask {
            kind,
            query: "hi".into(),
            conversation_id: None,
            inputs: Value::Null,
        };
        build_reply(config, &ask)
            .unwrap()
            .frames
            .iter()
            .map(|f| {
                serde_json::from_str::<Value>(f).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn chatflow_ends_with_workflow_finished_then_message_end() {
        let config = SimConfig {
            chatflow: true,
            pieces: 2,
            ..SimConfig::default()
        };
        assert_eq!(
            events(&config, ApiKind::Chat),
            [
                "workflow_started",
                "node_started",
                "node_finished",
                "node_started",
                "message",
                "message",
                "node_finished",
                "node_started",
                "node_finished",
                "workflow_finished",
                "message_end",
            ]
        );
    }

    #[test]
    fn workflow_app_streams_text_chunks_without_message_end() {
        let config = SimConfig {
            pieces: 2,
            ..SimConfig::default()
        };
        let events = events(&config, ApiKind::Workflow);
        assert_eq!(events.iter().filter(|e| *e == "text_chunk").count(), 2);
        assert_eq!(events.last().map(String::as_str), Some("workflow_finished"));
        assert!(!events.iter().any(|e| e == "message_end"));
    }
}
