//! The console API: login (base64 or plain password, locked after too many wrong ones), CSRF on every
//! call, refresh, the admin API key, and an app's conversations, messages and daily token costs over what
//! the simulator streamed.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use dify_sim::{ConsoleAccount, DifySim, LOGIN_MAX_ERROR_LIMITS, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A console client as a script has it: the cookies the login set, the CSRF token echoed in a header.
struct Session {
    cookies: HashMap<String, String>,
}

impl Session {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Renews the session with its refresh cookie.
    async fn refresh(&self, sim: &DifySim) -> reqwest::Response {
        client()
            .post(format!("{}/console/api/refresh-token", sim.base_url()))
            .header(
                "Cookie",
                format!("refresh_token={}", self.cookies["refresh_token"]),
            )
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, sim: &DifySim, path: &str) -> (StatusCode, Value) {
        let response = client()
            .get(format!("{}/console/api/{path}", sim.base_url()))
            .header("Cookie", self.cookie_header())
            .header("X-CSRF-Token", &self.cookies["csrf_token"])
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

fn set_cookies(response: &reqwest::Response) -> HashMap<String, String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| {
            let (pair, _) = value.to_str().ok()?.split_once(';')?;
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

async fn login(sim: &DifySim, email: &str, password: &str) -> (StatusCode, Value, Option<Session>) {
    let response = client()
        .post(format!("{}/console/api/login", sim.base_url()))
        .json(&json!({"email": email, "password": password, "remember_me": true}))
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&response);
    let status = response.status();
    let body = response.json().await.unwrap();
    let session = (cookies.len() == 3).then_some(Session { cookies });
    (status, body, session)
}

async fn signed_in(sim: &DifySim) -> Session {
    let account = ConsoleAccount::default();
    let (status, body, session) =
        login(sim, &account.email, &STANDARD.encode(&account.password)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"result": "success"}))
    );
    session.unwrap()
}

#[tokio::test]
async fn login_takes_the_password_as_its_dify_version_sends_it_and_refuses_the_wrong_one() {
    let sim = start(fast()).await;
    let account = ConsoleAccount::default();
    // Since about 1.11 the password is base64: a plain one is not even read.
    let (status, body, session) = login(&sim, &account.email, &account.password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Invalid encrypted data");
    assert!(session.is_none());
    let (status, body, session) = login(&sim, &account.email, &STANDARD.encode("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"code": "authentication_failed", "message": "Invalid email or password.", "status": 401})
    );
    assert!(session.is_none());
    let session = signed_in(&sim).await;
    assert!(
        session.cookies.contains_key("access_token")
            && session.cookies.contains_key("refresh_token")
    );
    // Before, it went plain.
    sim.set_console(ConsoleAccount {
        base64_password: false,
        ..ConsoleAccount::default()
    });
    let (status, _, session) = login(&sim, &account.email.to_uppercase(), &account.password).await;
    assert_eq!(status, StatusCode::OK);
    assert!(session.is_some());
}

#[tokio::test]
async fn too_many_wrong_passwords_lock_the_login_as_dify_does() {
    let sim = start(fast()).await;
    let account = ConsoleAccount::default();
    let wrong = STANDARD.encode("wrong");
    for _ in 0..LOGIN_MAX_ERROR_LIMITS {
        login(&sim, &account.email, &wrong).await;
    }
    // A good login resets the count.
    signed_in(&sim).await;
    for _ in 0..=LOGIN_MAX_ERROR_LIMITS {
        let (status, _, _) = login(&sim, &account.email, &wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // One more than the limit: even the right password is refused now.
    let right = STANDARD.encode(&account.password);
    let (status, body, session) = login(&sim, &account.email, &right).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "email_code_login_limit");
    assert!(session.is_none());
    sim.set_console(ConsoleAccount::default());
    assert_eq!(login(&sim, &account.email, &right).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_call_needs_the_csrf_header_and_a_refresh_replaces_the_session() {
    let sim = start(fast()).await;
    let session = signed_in(&sim).await;
    let path = "apps/t/chat-conversations";
    assert_eq!(session.get(&sim, path).await.0, StatusCode::OK);
    // A GET without the header is refused like any other call.
    let bare = client()
        .get(format!("{}/console/api/{path}", sim.base_url()))
        .header("Cookie", session.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.json::<Value>().await.unwrap()["message"],
        "CSRF token is missing or invalid."
    );
    let refreshed = session.refresh(&sim).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let renewed = Session {
        cookies: set_cookies(&refreshed),
    };
    assert_eq!(renewed.get(&sim, path).await.0, StatusCode::OK);
    let (status, body) = session.get(&sim, path).await;
    assert_eq!(
        (status, &body["message"]),
        (StatusCode::UNAUTHORIZED, &json!("Invalid token."))
    );
    // A refresh token is good once.
    let again = session.refresh(&sim).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_api_key_works_with_its_workspace_and_without_cookies() {
    let sim = start(fast()).await;
    let account = ConsoleAccount {
        admin_api_key: Some("sim-admin-key".into()),
        ..ConsoleAccount::default()
    };
    sim.set_console(account.clone());
    let call = |workspace: &'static str| {
        client()
            .get(format!(
                "{}/console/api/apps/t/statistics/token-costs",
                sim.base_url()
            ))
            .bearer_auth("sim-admin-key")
            .header("X-WORKSPACE-ID", workspace)
            .send()
    };
    let answer = call("00000000-0000-4000-8000-000000000001").await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({"data": []}));
    assert_eq!(
        call("another-workspace").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_apps_conversations_messages_and_costs_are_what_was_streamed() {
    let sim = start(fast()).await;
    let alice = web_chat(&sim, "t", Some("alice-org-id"), "", "first").await;
    for query in ["second", "third"] {
        assert_eq!(
            web_chat(&sim, "t", Some("alice-org-id"), &alice, query).await,
            alice
        );
    }
    let someone = web_chat(&sim, "t", None, "", "from a plain browser").await;
    web_chat(&sim, "another-app", Some("bob"), "", "elsewhere").await;
    let session = signed_in(&sim).await;

    let (status, list) = session
        .get(
            &sim,
            "apps/t/chat-conversations?sort_by=-created_at&limit=1",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (list["total"].as_u64(), list["has_more"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(list["data"][0]["id"], json!(someone), "newest first");
    let (_, list) = session
        .get(&sim, "apps/t/chat-conversations?sort_by=created_at")
        .await;
    let first = &list["data"][0];
    assert_eq!(first["id"], json!(alice));
    assert_eq!(first["from_end_user_session_id"], "alice-org-id");
    assert_eq!(first["message_count"], 3);
    assert_eq!(first["from_source"], "api");
    let (status, _) = session
        .get(&sim, "apps/t/chat-conversations?start=bad")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Backward pages, each oldest first.
    let path = format!("apps/t/chat-messages?conversation_id={alice}&limit=2");
    let (_, page) = session.get(&sim, &path).await;
    let queries: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["query"].as_str().unwrap())
        .collect();
    assert_eq!(
        (queries, page["has_more"].as_bool()),
        (vec!["second", "third"], Some(true))
    );
    let newest = &page["data"][1];
    assert!(newest["message_tokens"].as_u64() > Some(0) && newest.get("total_price").is_none());
    assert!(newest["metadata"]["usage"]["total_price"].is_string());
    let older = format!(
        "{path}&first_id={}",
        page["data"][0]["id"].as_str().unwrap()
    );
    let (_, page) = session.get(&sim, &older).await;
    assert_eq!(
        (
            page["data"][0]["query"].as_str(),
            page["has_more"].as_bool()
        ),
        (Some("first"), Some(false))
    );
    let (status, _) = session
        .get(
            &sim,
            "apps/another-app/chat-messages?conversation_id="
                .to_owned()
                .as_str(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // One day, four messages of this app, their tokens and prices summed.
    let (_, costs) = session.get(&sim, "apps/t/statistics/token-costs").await;
    let days = costs["data"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{costs}");
    let (_, all) = session
        .get(
            &sim,
            &format!("apps/t/chat-messages?conversation_id={alice}"),
        )
        .await;
    let (_, other) = session
        .get(
            &sim,
            &format!("apps/t/chat-messages?conversation_id={someone}"),
        )
        .await;
    let messages: Vec<&Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(other["data"].as_array().unwrap())
        .collect();
    let tokens: u64 = messages
        .iter()
        .map(|m| m["message_tokens"].as_u64().unwrap() + m["answer_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(days[0]["token_count"].as_u64(), Some(tokens));
    assert_eq!(days[0]["currency"], "USD");
}

#[tokio::test]
async fn workflow_runs_are_listed_for_workflow_apps_and_chatflows() {
    let sim = start(fast()).await;
    let base = sim.base_url();
    let run = tokendesk_test_support::browser_workflow_run(&base, "wf", Some("alice-org-id")).await;
    tokendesk_test_support::browser_workflow_run(&base, "wf", None).await;
    sim.set_config(SimConfig {
        chatflow: true,
        ..fast()
    });
    let chatflow = tokendesk_test_support::browser_chat(&base, "cf", Some("bob"), "", "hi").await;
    let session = signed_in(&sim).await;

    let (status, logs) = session
        .get(&sim, "apps/wf/workflow-app-logs?page=1&limit=1")
        .await;
    assert_eq!(status, StatusCode::OK, "{logs}");
    assert_eq!(
        (logs["total"].as_u64(), logs["has_more"].as_bool()),
        (Some(2), Some(true))
    );
    let (_, logs) = session
        .get(&sim, "apps/wf/workflow-app-logs?limit=100")
        .await;
    let oldest = &logs["data"][1];
    assert_eq!(oldest["workflow_run"]["id"], run.as_str());
    assert_eq!(oldest["workflow_run"]["status"], "succeeded");
    assert!(oldest["workflow_run"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(oldest["created_from"], "web-app");
    assert_eq!(oldest["created_by_end_user"]["session_id"], "alice-org-id");
    // Nothing after a time in the future; a time that is no ISO 8601 is refused.
    let (_, later) = session
        .get(
            &sim,
            "apps/wf/workflow-app-logs?created_at__after=2999-01-01T00:00:00%2B00:00",
        )
        .await;
    assert_eq!(later["total"], 0);
    let (status, _) = session
        .get(
            &sim,
            "apps/wf/workflow-app-logs?created_at__after=yesterday",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A chatflow's runs name their message; a workflow app's log lists none of them.
    let (status, runs) = session
        .get(
            &sim,
            "apps/cf/advanced-chat/workflow-runs?triggered_from=app-run&limit=10",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs["data"][0]["message_id"], chatflow.message_id.as_str());
    assert_eq!(
        runs["data"][0]["conversation_id"],
        chatflow.conversation_id.as_str()
    );
    assert_eq!(runs["has_more"], false);
    let (_, none) = session.get(&sim, "apps/cf/workflow-app-logs").await;
    assert_eq!(none["total"], 0);

    // The app list tells the modes apart.
    let (_, apps) = session.get(&sim, "apps?limit=100").await;
    let mode = |code: &str| {
        apps["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|app| app["id"] == code)
            .map(|app| app["mode"].clone())
    };
    assert_eq!(mode("wf"), Some(json!("workflow")));
    assert_eq!(mode("cf"), Some(json!("advanced-chat")));
}
