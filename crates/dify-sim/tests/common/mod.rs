//! Helpers shared by the integration tests: a server on port 0, a plain HTTP
//! client, and a strict parser of Dify's SSE frames.
#![allow(dead_code)] // each test binary uses a different subset

use bytes::Bytes;
use dify_sim::{DifySim, SimConfig};
use serde_json::{Value, json};

pub async fn start(config: SimConfig) -> DifySim {
    DifySim::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// The default knobs without delays, so tests run fast.
pub fn fast() -> SimConfig {
    SimConfig {
        first_byte_delay_ms: 0,
        frame_delay_ms: 0,
        ..SimConfig::default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A response read chunk by chunk, as the HTTP body delivered it.
pub struct Streamed {
    pub status: u16,
    pub content_type: String,
    pub chunks: Vec<Bytes>,
}

impl Streamed {
    pub fn bytes(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes()).unwrap()
    }

    pub fn frames(&self) -> Vec<Value> {
        frames(&self.text())
    }
}

pub async fn read(response: reqwest::Response) -> Streamed {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let mut response = response;
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks.push(chunk);
    }
    Streamed {
        status,
        content_type,
        chunks,
    }
}

pub async fn post(sim: &DifySim, path: &str, body: Value) -> Streamed {
    let response = client()
        .post(format!("{}{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    read(response).await
}

pub async fn get(sim: &DifySim, path: &str) -> Streamed {
    let response = client()
        .get(format!("{}{path}", sim.base_url()))
        .send()
        .await
        .unwrap();
    read(response).await
}

pub async fn chat(sim: &DifySim, query: &str) -> Streamed {
    post(
        sim,
        "/api/chat-messages",
        json!({"inputs": {}, "query": query, "conversation_id": "", "response_mode": "streaming"}),
    )
    .await
}

/// A chat message sent as Dify's web app sends it (passport under `user_id`, then the message); returns the
/// conversation's id.
pub async fn web_chat(
    sim: &DifySim,
    app: &str,
    user_id: Option<&str>,
    conversation_id: &str,
    query: &str,
) -> String {
    let reply =
        tokendesk_test_support::browser_chat(&sim.base_url(), app, user_id, conversation_id, query)
            .await;
    // Every block of the stream is a well-formed frame.
    frames(&reply.body);
    reply.conversation_id
}

/// The data frames of an SSE body. Panics unless every block is exactly
/// `data: <json>` or `event: ping`, each ended by a blank line.
pub fn frames(body: &str) -> Vec<Value> {
    let blocks = body
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("stream does not end with a blank line: {body:?}"));
    blocks
        .split("\n\n")
        .filter(|block| *block != "event: ping")
        .map(|block| {
            let json = block
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {block:?}"));
            assert!(!json.contains('\n'), "a frame spans lines: {json:?}");
            serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {json:?}: {e}"))
        })
        .collect()
}

pub fn pings(body: &str) -> usize {
    body.split("\n\n").filter(|b| *b == "event: ping").count()
}

pub fn events(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f["event"].as_str().unwrap())
        .collect()
}

/// A compact body with its per-reply ids and timestamp replaced, so two
/// replies to the same request can be compared byte for byte.
pub fn normalize(body: &str) -> String {
    let frames = frames(body);
    let mut text = body.to_owned();
    if let Some(at) = frames.first().and_then(|f| f.get("created_at")) {
        text = text.replace(&format!("\"created_at\":{at}"), "\"created_at\":0");
    }
    for key in ["message_id", "task_id", "conversation_id"] {
        if let Some(id) = frames.first().and_then(|f| f[key].as_str()) {
            text = text.replace(id, key);
        }
    }
    text
}

pub fn usage(frames: &[Value]) -> &Value {
    let end = frames
        .iter()
        .find(|f| f["event"] == "message_end")
        .expect("a message_end frame");
    &end["metadata"]["usage"]
}
