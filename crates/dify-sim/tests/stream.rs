//! The streaming endpoints over real HTTP: frame format and every stream knob.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::*;
use dify_sim::{Chunking, JsonStyle, SimConfig};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn decimal(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("price is not a string: {value}"));
    Decimal::from_str(text).unwrap()
}

fn answer_of(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["event"] == "message" || f["event"] == "agent_message")
        .map(|f| f["answer"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn chat_frames_match_difys_format() {
    let answer = "Hello, 世界! 🌏 Nice to meet you.";
    let sim = start(SimConfig {
        prompt_tokens: Some(1033),
        completion_tokens: Some(135),
        answer: Some(answer.into()),
        pieces: 4,
        ..fast()
    })
    .await;
    let reply = chat(&sim, "hi").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/event-stream"),
        "{}",
        reply.content_type
    );
    let frames = reply.frames();
    assert_eq!(
        events(&frames),
        ["message", "message", "message", "message", "message_end"]
    );
    let first = &frames[0];
    for frame in &frames {
        for key in ["conversation_id", "message_id", "task_id"] {
            let id = frame[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} missing in {frame}"));
            uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(frame[key], first[key], "{key} changes within a reply");
        }
        assert!(frame["created_at"].is_u64(), "created_at in {frame}");
    }
    assert_eq!(answer_of(&frames), answer);

    let end = &frames[4];
    assert_eq!(end["id"], end["message_id"]);
    assert_eq!(end["files"], Value::Null);
    assert_eq!(end["metadata"]["annotation_reply"], Value::Null);
    assert_eq!(end["metadata"]["retriever_resources"], json!([]));
    let usage = &end["metadata"]["usage"];
    let expected = json!({
        "prompt_tokens": 1033, "prompt_unit_price": "0.001", "prompt_price_unit": "0.001",
        "prompt_price": "0.0010330", "completion_tokens": 135, "completion_unit_price": "0.002",
        "completion_price_unit": "0.001", "completion_price": "0.0002700", "total_tokens": 1168,
        "total_price": "0.0013030", "currency": "USD",
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&usage[key], value, "usage.{key}");
    }
    assert!(usage["latency"].is_number());
    // The frame text keeps Dify's key order and compact style.
    let text = reply.text();
    assert!(
        text.starts_with("data: {\"event\":\"message\",\"conversation_id\":"),
        "{text}"
    );
    assert!(text.contains("🌏") && !text.contains("\\u"), "{text}");
}

#[tokio::test]
async fn derived_prices_are_exact_decimal_strings() {
    let sim = start(SimConfig {
        prompt_unit_price: "0.0015".into(),
        completion_unit_price: "0.006".into(),
        ..fast()
    })
    .await;
    let frames = chat(&sim, "How many tokens is this question?")
        .await
        .frames();
    let usage = usage(&frames);
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(prompt > 0 && completion > 0);
    assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + completion));
    let thousandth = Decimal::new(1, 3);
    let prompt_price = decimal(&usage["prompt_price"]);
    let completion_price = decimal(&usage["completion_price"]);
    assert_eq!(
        prompt_price,
        Decimal::from(prompt) * Decimal::new(15, 4) * thousandth
    );
    assert_eq!(
        completion_price,
        Decimal::from(completion) * Decimal::new(6, 3) * thousandth
    );
    assert_eq!(
        decimal(&usage["total_price"]),
        prompt_price + completion_price
    );
    for key in ["prompt_price", "completion_price", "total_price"] {
        let text = usage[key].as_str().unwrap();
        assert_eq!(
            text.split_once('.').map(|(_, d)| d.len()),
            Some(7),
            "{key} = {text}"
        );
    }
}

#[tokio::test]
async fn unpriced_models_report_zero_prices() {
    let sim = start(SimConfig {
        unpriced: true,
        ..fast()
    })
    .await;
    let frames = chat(&sim, "hi").await.frames();
    let usage = usage(&frames);
    for key in [
        "prompt_unit_price",
        "prompt_price",
        "completion_price",
        "total_price",
    ] {
        assert_eq!(usage[key], "0", "{key}");
    }
    assert!(usage["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn legacy_and_compact_styles_parse_to_the_same_values() {
    let base = SimConfig {
        answer: Some("你好, world: 😀".into()),
        pieces: 3,
        ..fast()
    };
    let sim = start(base.clone()).await;
    let conversation = "6f1d3c8e-4b7a-4c1e-9d2f-0a1b2c3d4e5f";
    let ask = json!({"inputs": {}, "query": "hi", "conversation_id": conversation, "response_mode": "streaming"});

    let compact = post(&sim, "/api/chat-messages", ask.clone()).await.text();
    sim.set_config(SimConfig {
        json_style: JsonStyle::Legacy,
        ..base
    });
    let legacy = post(&sim, "/api/chat-messages", ask).await.text();

    assert!(
        compact.contains("你好") && !compact.contains("\\u"),
        "{compact}"
    );
    assert!(
        !compact.contains("\": ") && !compact.contains("\", \""),
        "{compact}"
    );
    assert!(legacy.is_ascii(), "{legacy}");
    assert!(
        legacy.contains("\\u4f60\\u597d") && legacy.contains("\\ud83d\\ude00"),
        "{legacy}"
    );
    assert!(
        legacy.contains("{\"event\": \"message\", \"conversation_id\": "),
        "{legacy}"
    );

    let strip = |mut frame: Value| {
        for key in ["message_id", "task_id", "id", "created_at"] {
            frame[key] = Value::Null;
        }
        frame
    };
    let compact: Vec<Value> = frames(&compact).into_iter().map(strip).collect();
    let legacy: Vec<Value> = frames(&legacy).into_iter().map(strip).collect();
    assert_eq!(compact, legacy);
    assert_eq!(answer_of(&legacy), "你好, world: 😀");
}

#[tokio::test]
async fn split_chunks_concatenate_to_the_same_stream() {
    let base = SimConfig {
        answer: Some("分块测试：每七个字节切一刀。".into()),
        ping_every: Some(2),
        ..fast()
    };
    let sim = start(base.clone()).await;
    let conversation = "0b8f7e36-8a53-4d8e-bb7e-3a2f5f1c9d10";
    let ask = json!({"inputs": {}, "query": "hi", "conversation_id": conversation});

    let whole = post(&sim, "/api/chat-messages", ask.clone()).await;
    sim.set_config(SimConfig {
        chunking: Chunking::SplitEvery(7),
        ..base
    });
    let split = post(&sim, "/api/chat-messages", ask).await;

    assert_eq!(normalize(&split.text()), normalize(&whole.text()));
    assert!(
        split.chunks.len() >= split.bytes().len() / 7,
        "{} chunks",
        split.chunks.len()
    );
    assert!(split.chunks.iter().all(|c| c.len() <= 7));
    assert!(
        split.chunks.iter().any(|c| std::str::from_utf8(c).is_err()),
        "no chunk cuts a multibyte character"
    );
    let bytes = split.bytes();
    let mut boundaries = split.chunks.iter().scan(0, |end, c| {
        *end += c.len();
        Some(*end)
    });
    assert!(
        boundaries.any(|end| (1..6).any(|k| end >= k && bytes[end - k..].starts_with(b"data: "))),
        "no chunk boundary falls inside a data: prefix"
    );
    // Whole-frame chunking sends each frame (and each ping) as its own chunk.
    assert!(whole.chunks.iter().all(|c| c.ends_with(b"\n\n")));
}

#[tokio::test]
async fn pings_come_between_frames_only_when_asked() {
    let sim = start(SimConfig {
        pieces: 4,
        ..fast()
    })
    .await;
    let plain = chat(&sim, "hi").await.text();
    assert_eq!(pings(&plain), 0);

    sim.set_config(SimConfig {
        pieces: 4,
        ping_every: Some(1),
        ..fast()
    });
    let text = chat(&sim, "hi").await.text();
    let frames = frames(&text);
    assert_eq!(frames.len(), 5);
    assert_eq!(pings(&text), 4, "{text}");
    assert!(!text.starts_with("event: ping") && !text.ends_with("event: ping\n\n"));
    assert!(!text.contains("event: ping\n\nevent: ping"));
}

#[tokio::test]
async fn omit_usage_keeps_message_end_without_usage() {
    let sim = start(SimConfig {
        omit_usage: true,
        ..fast()
    })
    .await;
    let frames = chat(&sim, "hi").await.frames();
    let end = frames.last().unwrap();
    assert_eq!(end["event"], "message_end");
    let metadata = end["metadata"].as_object().unwrap();
    assert!(!metadata.contains_key("usage"), "{end}");
    assert!(metadata.contains_key("retriever_resources"));
}

#[tokio::test]
async fn omit_message_end_ends_after_the_answer() {
    let sim = start(SimConfig {
        omit_message_end: true,
        pieces: 3,
        answer: Some("abc".into()),
        ..fast()
    })
    .await;
    let frames = chat(&sim, "hi").await.frames();
    assert_eq!(events(&frames), ["message", "message", "message"]);
    assert_eq!(answer_of(&frames), "abc");
}

#[tokio::test]
async fn duplicate_message_end_repeats_the_same_bytes() {
    let sim = start(SimConfig {
        duplicate_message_end: true,
        ..fast()
    })
    .await;
    let text = chat(&sim, "hi").await.text();
    let blocks: Vec<&str> = text.trim_end().split("\n\n").collect();
    let [.., first_end, second_end] = blocks.as_slice() else {
        panic!("{text}")
    };
    assert!(
        first_end.contains("\"event\":\"message_end\""),
        "{first_end}"
    );
    assert_eq!(first_end, second_end);
    assert_eq!(
        events(&frames(&text))
            .iter()
            .filter(|e| **e == "message_end")
            .count(),
        2
    );
}

#[tokio::test]
async fn error_frame_follows_the_first_piece_and_ends_the_stream() {
    let sim = start(SimConfig {
        error_frame: Some("模型超时 / model timed out".into()),
        ..fast()
    })
    .await;
    let frames = chat(&sim, "hi").await.frames();
    assert_eq!(events(&frames), ["message", "error"]);
    let error = &frames[1];
    assert_eq!(error["message"], "模型超时 / model timed out");
    assert_eq!(error["code"], "completion_request_error");
    assert_eq!(error["status"], 400);
    assert_eq!(error["message_id"], frames[0]["message_id"]);
    assert!(error["conversation_id"].is_string() && error["task_id"].is_string());
}

#[tokio::test]
async fn http_error_answers_json_instead_of_a_stream() {
    let sim = start(SimConfig {
        http_error: Some((402, "Insufficient credits: top up to keep chatting.".into())),
        ..fast()
    })
    .await;
    for (path, body) in [
        ("/api/chat-messages", json!({"inputs": {}, "query": "hi"})),
        (
            "/api/completion-messages",
            json!({"inputs": {"query": "hi"}}),
        ),
        ("/api/workflows/run", json!({"inputs": {"query": "hi"}})),
    ] {
        let reply = post(&sim, path, body).await;
        assert_eq!(reply.status, 402, "{path}");
        assert!(
            reply.content_type.starts_with("application/json"),
            "{}",
            reply.content_type
        );
        assert_eq!(
            reply.json(),
            json!({"code": "payment_required", "message": "Insufficient credits: top up to keep chatting.", "status": 402})
        );
    }
    assert_eq!(sim.request_count("chat-messages"), 1);
    assert_eq!(sim.request_count("completion-messages"), 1);
    assert_eq!(sim.request_count("workflows/run"), 1);
}

#[tokio::test]
async fn agent_mode_sends_agent_message_frames() {
    let sim = start(SimConfig {
        agent_mode: true,
        pieces: 2,
        ..fast()
    })
    .await;
    let frames = chat(&sim, "hi").await.frames();
    assert_eq!(
        events(&frames),
        ["agent_message", "agent_message", "message_end"]
    );
}

#[tokio::test]
async fn completion_apps_report_usage_only_when_asked() {
    let sim = start(SimConfig {
        pieces: 2,
        answer: Some("done".into()),
        ..fast()
    })
    .await;
    let ask = json!({"inputs": {"query": "write a haiku"}, "response_mode": "streaming"});
    let frames = post(&sim, "/api/completion-messages", ask.clone())
        .await
        .frames();
    assert_eq!(events(&frames), ["message", "message", "message_end"]);
    assert_eq!(answer_of(&frames), "done");
    let end = &frames[2];
    assert!(end["metadata"].get("usage").is_none(), "{end}");
    assert!(
        frames
            .iter()
            .all(|f| f["message_id"].is_string() && f["task_id"].is_string())
    );
    // Like Dify's completion stream: no conversation.
    assert!(frames.iter().all(|f| f.get("conversation_id").is_none()));

    sim.set_config(SimConfig {
        completion_usage: true,
        ..fast()
    });
    let frames = post(&sim, "/api/completion-messages", ask).await.frames();
    assert!(usage(&frames)["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn workflow_runs_stream_workflow_events_without_model_names() {
    let sim = start(SimConfig {
        pieces: 2,
        answer: Some("step output".into()),
        ..fast()
    })
    .await;
    let reply = post(
        &sim,
        "/api/workflows/run",
        json!({"inputs": {"query": "go"}, "response_mode": "streaming"}),
    )
    .await;
    let frames = reply.frames();
    assert_eq!(
        events(&frames),
        [
            "workflow_started",
            "node_started",
            "node_finished",
            "node_started",
            "text_chunk",
            "text_chunk",
            "node_finished",
            "node_started",
            "node_finished",
            "workflow_finished",
        ]
    );
    let run_id = frames[0]["workflow_run_id"].as_str().unwrap();
    assert!(
        frames
            .iter()
            .all(|f| f["workflow_run_id"] == run_id && f["task_id"].is_string())
    );
    assert_eq!(frames[0]["data"]["inputs"], json!({"query": "go"}));
    let text: String = frames
        .iter()
        .filter(|f| f["event"] == "text_chunk")
        .map(|f| f["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "step output");
    for finished in frames.iter().filter(|f| f["event"] == "node_finished") {
        assert_eq!(finished["data"]["process_data"], Value::Null);
        assert_eq!(finished["data"]["outputs"], Value::Null);
    }
    let last = frames.last().unwrap();
    assert_eq!(last["data"]["status"], "succeeded");
    assert_eq!(last["data"]["outputs"], Value::Null);
    assert!(last["data"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(!reply.text().contains("model"), "a model name leaked");
}

#[tokio::test]
async fn conversations_keep_their_id_and_replies_get_fresh_message_ids() {
    let sim = start(fast()).await;
    let first = chat(&sim, "hi").await.frames();
    let conversation = first[0]["conversation_id"].as_str().unwrap().to_owned();
    let second = post(
        &sim,
        "/api/chat-messages",
        json!({"inputs": {}, "query": "again", "conversation_id": conversation}),
    )
    .await
    .frames();
    assert_eq!(second[0]["conversation_id"], conversation);
    assert_ne!(second[0]["message_id"], first[0]["message_id"]);
    assert_ne!(second[0]["task_id"], first[0]["task_id"]);
    let third = chat(&sim, "new").await.frames();
    assert_ne!(third[0]["conversation_id"], conversation);
}

#[tokio::test]
async fn two_quick_sends_both_stream_to_the_end() {
    let sim = start(SimConfig {
        first_byte_delay_ms: 50,
        frame_delay_ms: 30,
        ..SimConfig::default()
    })
    .await;
    let (a, b) = tokio::join!(chat(&sim, "first"), chat(&sim, "second"));
    let (a, b) = (a.frames(), b.frames());
    assert_eq!(a.last().unwrap()["event"], "message_end");
    assert_eq!(b.last().unwrap()["event"], "message_end");
    assert_ne!(a[0]["message_id"], b[0]["message_id"]);
    assert!(answer_of(&a).contains("first") && answer_of(&b).contains("second"));
    assert_eq!(sim.request_count("chat-messages"), 2);
}

#[tokio::test]
async fn default_answer_echoes_the_query_and_tokens_are_deterministic() {
    let sim = start(fast()).await;
    let english = chat(&sim, "What is TokenDesk?").await.frames();
    assert!(answer_of(&english).contains("What is TokenDesk?"));
    let chinese = chat(&sim, "今天天气怎么样？").await.frames();
    let answer = answer_of(&chinese);
    assert!(
        answer.contains("今天天气怎么样") && answer.contains("模拟回复"),
        "{answer}"
    );
    let again = chat(&sim, "今天天气怎么样？").await.frames();
    assert_eq!(
        usage(&again)["prompt_tokens"],
        usage(&chinese)["prompt_tokens"]
    );
    assert_eq!(
        usage(&again)["completion_tokens"],
        usage(&chinese)["completion_tokens"]
    );
    assert_ne!(
        usage(&english)["prompt_tokens"],
        usage(&chinese)["prompt_tokens"]
    );
}

#[tokio::test]
async fn delays_hold_back_the_frames() {
    let sim = start(SimConfig {
        first_byte_delay_ms: 200,
        frame_delay_ms: 100,
        pieces: 3,
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let frames = chat(&sim, "hi").await.frames();
    assert_eq!(frames.len(), 4);
    // 200 ms before the first frame, then 100 ms before each of the other three.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_requests_are_counted_and_refused_like_dify() {
    let sim = start(fast()).await;
    let response = client()
        .post(format!("{}/api/chat-messages", sim.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    let reply = read(response).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_param");
    let missing_query = post(&sim, "/api/chat-messages", json!({"inputs": {}})).await;
    assert_eq!(missing_query.status, 400);
    assert_eq!(missing_query.json()["message"], "query is required");
    assert_eq!(sim.request_count("chat-messages"), 2);
}

#[tokio::test]
async fn an_invalid_config_set_in_process_fails_requests_cleanly() {
    let sim = start(fast()).await;
    sim.set_config(SimConfig {
        price_unit: "per thousand".into(),
        ..fast()
    });
    let reply = chat(&sim, "hi").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["code"], "sim_config_invalid");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("price_unit")
    );
}
