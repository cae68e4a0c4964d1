//! Pages, replay, the side endpoints, control endpoints, the library handle and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use dify_sim::{AppKind, DifySim, ENDPOINTS, STRICT_CSP, SimConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn share_pages_are_served_with_the_test_ids_and_no_inline_code() {
    let sim = start(fast()).await;
    for kind in AppKind::ALL {
        let page = get(&sim, &format!("/{kind}/app-123")).await;
        assert_eq!(page.status, 200, "{kind}");
        assert!(
            page.content_type.starts_with("text/html"),
            "{}",
            page.content_type
        );
        let html = page.text();
        for needle in [
            "<textarea id=\"query\"",
            "id=\"send\"",
            "id=\"messages\"",
            "id=\"toast\"",
            "id=\"app-kind\"",
            &format!("data-kind=\"{kind}\""),
            "app-123",
            "<script src=\"/static/chat.js\" defer></script>",
            "<link rel=\"stylesheet\" href=\"/static/chat.css\">",
        ] {
            assert!(html.contains(needle), "{kind} page lacks {needle}");
        }
        // Everything must load under `script-src 'self'; style-src 'self'`.
        assert_eq!(html.matches("<script").count(), 1, "{kind}");
        assert!(
            !html.contains("<style") && !html.contains(" style="),
            "{kind}"
        );
        assert!(
            !html.contains(" onclick=") && !html.contains(" onload="),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn static_files_stream_like_difys_client() {
    let sim = start(fast()).await;
    let script = get(&sim, "/static/chat.js").await;
    assert_eq!(script.status, 200);
    assert!(
        script.content_type.starts_with("text/javascript"),
        "{}",
        script.content_type
    );
    let js = script.text();
    for needle in [
        "globalThis.fetch(url",
        "method: 'POST'",
        "'Content-Type': 'application/json'",
        "response_mode: 'streaming'",
        "response.body.getReader()",
        "new TextDecoder(",
        "split('\\n')",
        "startsWith('data: ')",
        "JSON.parse(",
        "'/api/chat-messages'",
        "'/api/completion-messages'",
        "'/api/workflows/run'",
        "/name`",
        "/suggested-questions`",
        "case 'agent_message':",
        "case 'message_end':",
        "case 'error':",
        "dataset.done = 'true'",
    ] {
        assert!(js.contains(needle), "chat.js lacks {needle}");
    }
    let style = get(&sim, "/static/chat.css").await;
    assert_eq!(style.status, 200);
    assert!(
        style.content_type.starts_with("text/css"),
        "{}",
        style.content_type
    );
    assert!(style.text().contains("#toast.visible"));
}

#[tokio::test]
async fn strict_csp_header_only_when_asked() {
    let sim = start(fast()).await;
    let url = sim.share_url(AppKind::Chat, "t");
    let response = client().get(&url).send().await.unwrap();
    assert!(response.headers().get("content-security-policy").is_none());

    sim.set_config(SimConfig {
        strict_csp: true,
        ..fast()
    });
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.headers()["content-security-policy"], STRICT_CSP);
    assert_eq!(
        STRICT_CSP,
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'"
    );
}

#[tokio::test]
async fn page_tokens_are_escaped() {
    let sim = start(fast()).await;
    let html = get(&sim, "/chat/%3Cimg%20src%3Dx%3E%22").await.text();
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x&gt;&quot;"), "{html}");
}

#[tokio::test]
async fn suggested_questions_flag_reaches_the_page() {
    let sim = start(fast()).await;
    assert!(
        get(&sim, "/chat/t")
            .await
            .text()
            .contains("data-suggested=\"false\"")
    );
    sim.set_config(SimConfig {
        suggested_questions: true,
        ..fast()
    });
    assert!(
        get(&sim, "/chat/t")
            .await
            .text()
            .contains("data-suggested=\"true\"")
    );
}

#[tokio::test]
async fn chatflow_replay_includes_the_earlier_message_end() {
    let sim = start(SimConfig {
        chatflow: true,
        pieces: 2,
        ..fast()
    })
    .await;
    let first = chat(&sim, "hi").await.frames();
    assert_eq!(events(&first).first(), Some(&"workflow_started"));
    let run_id = first[0]["workflow_run_id"].as_str().unwrap().to_owned();
    let end = first
        .iter()
        .find(|f| f["event"] == "message_end")
        .unwrap()
        .clone();
    assert_eq!(
        first.last(),
        Some(&end),
        "message_end closes a chatflow reply"
    );

    let replay = get(
        &sim,
        &format!("/api/workflow/{run_id}/events?include_state_snapshot=false"),
    )
    .await;
    assert_eq!(replay.status, 200);
    assert!(replay.content_type.starts_with("text/event-stream"));
    let replayed = replay.frames();
    assert_eq!(replayed, first);
    assert!(replayed.contains(&end));
    assert_eq!(sim.request_count("workflow/events"), 1);

    let unknown = get(
        &sim,
        "/api/workflow/00000000-0000-4000-8000-000000000000/events",
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], "not_found");
    assert_eq!(sim.request_count("workflow/events"), 2);
}

#[tokio::test]
async fn workflow_runs_can_be_replayed_and_plain_chats_have_no_run() {
    let sim = start(fast()).await;
    let run = post(
        &sim,
        "/api/workflows/run",
        json!({"inputs": {"query": "go"}}),
    )
    .await
    .frames();
    let run_id = run[0]["workflow_run_id"].as_str().unwrap();
    let replay = get(&sim, &format!("/api/workflow/{run_id}/events"))
        .await
        .frames();
    assert_eq!(replay, run);

    let plain = chat(&sim, "hi").await.frames();
    assert!(plain.iter().all(|f| f.get("workflow_run_id").is_none()));
}

#[tokio::test]
async fn conversation_names_come_from_the_first_query() {
    let sim = start(fast()).await;
    let frames = chat(&sim, "How do I reset my VPN password?").await.frames();
    let conversation = frames[0]["conversation_id"].as_str().unwrap();
    let named = post(
        &sim,
        &format!("/api/conversations/{conversation}/name"),
        json!({"auto_generate": true}),
    )
    .await;
    assert_eq!(named.status, 200);
    assert_eq!(named.json(), json!({"name": "How do I reset my VPN pa…"}));
    let renamed = post(
        &sim,
        &format!("/api/conversations/{conversation}/name"),
        json!({"name": "VPN"}),
    )
    .await;
    assert_eq!(renamed.json()["name"], "VPN");
    assert_eq!(sim.request_count("conversations/name"), 2);
}

#[tokio::test]
async fn a_conversation_is_attributed_to_the_user_id_of_its_passport() {
    let sim = start(fast()).await;
    let named = web_chat(&sim, "t", Some("org-user-42"), "", "hi").await;
    assert_eq!(
        sim.conversation_user(&named).as_deref(),
        Some("org-user-42")
    );
    // Without a user id, Dify makes up a session id of its own.
    let anonymous = web_chat(&sim, "t", None, "", "hi").await;
    let made_up = sim.conversation_user(&anonymous).unwrap();
    assert!(made_up != "org-user-42" && uuid::Uuid::parse_str(&made_up).is_ok());
    // Without a passport, nobody.
    let plain = chat(&sim, "hi").await.frames();
    assert_eq!(
        sim.conversation_user(plain[0]["conversation_id"].as_str().unwrap()),
        None
    );
    // The passport needs the app's code, as Dify's does.
    let refused = get(&sim, "/api/passport?user_id=x").await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn suggested_questions_follow_the_knob() {
    let sim = start(fast()).await;
    let path = "/api/messages/5e52b1c0-0000-4000-8000-000000000000/suggested-questions";
    let off = get(&sim, path).await;
    assert_eq!(off.status, 403);
    assert_eq!(
        off.json()["code"],
        "app_suggested_questions_after_answer_disabled"
    );

    sim.set_config(SimConfig {
        suggested_questions: true,
        ..fast()
    });
    let on = get(&sim, path).await;
    assert_eq!(on.status, 200);
    let body = on.json();
    assert_eq!(body["result"], "success");
    let questions = body["data"].as_array().unwrap();
    assert!(!questions.is_empty() && questions.iter().all(Value::is_string));
    assert_eq!(sim.request_count("suggested-questions"), 2);
}

#[tokio::test]
async fn the_message_list_keeps_the_usage_a_stream_left_out() {
    let sim = start(SimConfig {
        omit_message_end: true,
        ..fast()
    })
    .await;
    let stopped = chat(&sim, "tell me a story").await.frames();
    assert!(events(&stopped).iter().all(|event| *event != "message_end"));
    let conversation = stopped[0]["conversation_id"].as_str().unwrap().to_owned();
    let message = stopped[0]["message_id"].as_str().unwrap().to_owned();

    sim.set_config(SimConfig {
        omit_usage: true,
        ..fast()
    });
    let body = json!({"query": "and another", "conversation_id": conversation, "inputs": {}});
    let second = post(&sim, "/api/chat-messages", body).await.frames();
    let second_id = second[0]["message_id"].as_str().unwrap().to_owned();
    chat(&sim, "another conversation").await;

    let listed = get(
        &sim,
        &format!("/api/messages?conversation_id={conversation}&limit=20"),
    )
    .await;
    assert_eq!(listed.status, 200);
    let listed = listed.json();
    assert_eq!(
        (&listed["limit"], &listed["has_more"]),
        (&json!(20), &json!(false))
    );
    let items = listed["data"].as_array().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [message.as_str(), second_id.as_str()]);
    for item in items {
        let usage = &item["metadata"]["usage"];
        let (prompt, completion) = (
            usage["prompt_tokens"].as_u64().unwrap(),
            usage["completion_tokens"].as_u64().unwrap(),
        );
        assert!(prompt > 0 && completion > 0, "{item}");
        assert_eq!(
            (
                item["message_tokens"].as_u64(),
                item["answer_tokens"].as_u64()
            ),
            (Some(prompt), Some(completion))
        );
        assert_eq!(item["total_price"], usage["total_price"]);
        assert_eq!(
            (&item["status"], &item["conversation_id"]),
            (&json!("normal"), &json!(conversation))
        );
    }

    let newest = get(
        &sim,
        &format!("/api/messages?conversation_id={conversation}&limit=1"),
    )
    .await
    .json();
    assert_eq!(newest["has_more"], true);
    assert_eq!(newest["data"][0]["id"], second_id.as_str());
    assert_eq!(
        get(&sim, "/api/messages?conversation_id=nope").await.status,
        404
    );
    assert_eq!(get(&sim, "/api/messages").await.status, 400);
    assert_eq!(
        get(
            &sim,
            &format!("/api/messages?conversation_id={conversation}&limit=0")
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn a_message_record_has_no_tokens_until_its_reply_has_streamed() {
    let sim = start(SimConfig {
        first_byte_delay_ms: 0,
        frame_delay_ms: 300,
        pieces: 2,
        ..SimConfig::default()
    })
    .await;
    let mut response = client()
        .post(format!("{}/api/chat-messages", sim.base_url()))
        .json(&json!({"query": "slow", "inputs": {}}))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    let opening = frames(std::str::from_utf8(&first).unwrap());
    let conversation = opening[0]["conversation_id"].as_str().unwrap();
    let path = format!("/api/messages?conversation_id={conversation}");
    let during = get(&sim, &path).await.json();
    assert_eq!(
        (
            &during["data"][0]["message_tokens"],
            &during["data"][0]["metadata"]
        ),
        (&json!(0), &json!({}))
    );
    while response.chunk().await.unwrap().is_some() {}
    let after = get(&sim, &path).await.json();
    assert!(
        after["data"][0]["message_tokens"].as_u64().unwrap() > 0,
        "{after}"
    );
}

#[tokio::test]
async fn every_endpoint_is_counted_and_counts_reset() {
    let sim = start(fast()).await;
    let chat_frames = chat(&sim, "hi").await.frames();
    let conversation = chat_frames[0]["conversation_id"].as_str().unwrap();
    post(
        &sim,
        "/api/completion-messages",
        json!({"inputs": {"query": "x"}}),
    )
    .await;
    post(
        &sim,
        "/api/completion-messages",
        json!({"inputs": {"query": "y"}}),
    )
    .await;
    post(&sim, "/api/workflows/run", json!({"inputs": {}})).await;
    get(&sim, "/api/workflow/nope/events").await;
    post(
        &sim,
        &format!("/api/conversations/{conversation}/name"),
        json!({"auto_generate": true}),
    )
    .await;
    get(&sim, "/api/messages/m/suggested-questions").await;
    get(
        &sim,
        &format!("/api/messages?conversation_id={conversation}"),
    )
    .await;
    get(&sim, "/chat/t").await; // pages are not counted
    get(&sim, "/api/passport").await;

    let expected = json!({
        "chat-messages": 1, "completion-messages": 2, "workflows/run": 1, "workflow/events": 1,
        "conversations/name": 1, "suggested-questions": 1, "messages": 1, "passport": 1,
    });
    for name in ENDPOINTS {
        assert_eq!(
            Some(sim.request_count(name)),
            expected[name].as_u64(),
            "{name}"
        );
    }
    assert_eq!(sim.request_count("not-an-endpoint"), 0);
    assert_eq!(get(&sim, "/_sim/stats").await.json(), expected);

    sim.reset_counts();
    assert!(ENDPOINTS.iter().all(|name| sim.request_count(name) == 0));
    chat(&sim, "again").await;
    assert_eq!(get(&sim, "/_sim/stats").await.json()["chat-messages"], 1);
    let reset = client()
        .post(format!("{}/_sim/reset", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let stats = get(&sim, "/_sim/stats").await.json();
    assert!(
        stats.as_object().unwrap().values().all(|v| v == 0),
        "{stats}"
    );
}

#[tokio::test]
async fn config_endpoint_replaces_and_validates_the_config() {
    let sim = start(fast()).await;
    let set = post(&sim, "/_sim/config", json!({"answer": "from the control endpoint", "pieces": 1, "frame_delay_ms": 0, "first_byte_delay_ms": 0, "http_error": [429, "slow down"]})).await;
    assert_eq!(set.status, 200);
    let expected = SimConfig {
        answer: Some("from the control endpoint".into()),
        pieces: 1,
        http_error: Some((429, "slow down".into())),
        ..fast()
    };
    assert_eq!(sim.config(), expected);
    assert_eq!(
        serde_json::from_value::<SimConfig>(get(&sim, "/_sim/config").await.json()).unwrap(),
        expected
    );
    assert_eq!(chat(&sim, "hi").await.status, 429);

    // Knobs left out fall back to defaults: the whole config is replaced.
    post(&sim, "/_sim/config", json!({"answer": "only this"})).await;
    assert_eq!(
        sim.config(),
        SimConfig {
            answer: Some("only this".into()),
            ..SimConfig::default()
        }
    );

    for bad in [
        json!({"pieces": 0}),
        json!({"no_such_knob": true}),
        json!({"ping_every": 0}),
        json!({"price_unit": "x"}),
    ] {
        let refused = post(&sim, "/_sim/config", bad.clone()).await;
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(refused.json()["code"], "invalid_param");
    }
    assert_eq!(sim.config().answer.as_deref(), Some("only this"));

    sim.set_config(SimConfig {
        agent_mode: true,
        ..fast()
    });
    assert_eq!(get(&sim, "/_sim/config").await.json()["agent_mode"], true);
}

#[tokio::test]
async fn urls_point_at_the_bound_port() {
    let sim = start(fast()).await;
    let port = sim.addr().port();
    assert_ne!(port, 0);
    assert_eq!(sim.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        sim.share_url(AppKind::Workflow, "tok"),
        format!("http://127.0.0.1:{port}/workflow/tok")
    );
    assert_eq!(
        sim.share_url(AppKind::Chatbot, "tok"),
        format!("http://127.0.0.1:{port}/chatbot/tok")
    );

    let wildcard = DifySim::start("0.0.0.0:0".parse().unwrap(), fast())
        .await
        .unwrap();
    assert!(wildcard.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(get(&wildcard, "/chat/t").await.status, 200);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = start(fast()).await;
    let url = sim.share_url(AppKind::Chat, "t");
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    sim.shutdown().await;
    assert!(client().get(&url).send().await.is_err());
}

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_urls_and_serves_until_killed() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_dify-sim"))
            .args(["--port", "0", "--host", "127.0.0.1", "--token", "cli-token"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let base = lines.next().unwrap().unwrap();
    let chat_url = lines.next().unwrap().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(chat_url, format!("{base}/chat/cli-token"));

    let page = client().get(&chat_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("cli-token"));
    let reply = client()
        .post(format!("{base}/api/chat-messages"))
        .json(&json!({"inputs": {}, "query": "hi", "response_mode": "streaming"}))
        .send()
        .await
        .unwrap();
    let frames = frames(&reply.text().await.unwrap());
    assert_eq!(frames.last().unwrap()["event"], "message_end");
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the binary exited on its own"
    );
}
