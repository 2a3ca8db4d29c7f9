//! The control API under `/_cloudconform/` (docs/emulator.md "Control API"): health, reset,
//! read/replace the world, fix the clock, switch rate limits. Plain JSON, separate from the
//! cloud envelopes.
use super::world::World;
use super::Emulator;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset))
        .route("/world", get(get_world).put(put_world))
        .route("/clock", post(set_clock))
        .route("/config", post(set_config))
        .fallback(not_found)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "unknown control endpoint; see docs/emulator.md (health, reset, world, clock, config)",
    )
}

fn status(emulator: &Emulator) -> Value {
    let settings = emulator.shared.settings.read().clone();
    json!({
        "status": "ok",
        "now": emulator.now(),
        "clock": if settings.now.is_some() { "fixed" } else { "system" },
        "rate_limits": settings.rate_limits,
        "actions": emulator.specs().actions().count(),
    })
}

async fn health(State(emulator): State<Emulator>) -> Response {
    Json(status(&emulator)).into_response()
}

async fn reset(State(emulator): State<Emulator>) -> Response {
    emulator.reset();
    Json(status(&emulator)).into_response()
}

/// Whether the query asks for secrets (`?secrets=true`). The control API is unauthenticated, so
/// account secrets and tokens are redacted unless a caller asks for them by name.
fn wants_secrets(query: Option<&str>) -> bool {
    query
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "secrets=true")
}

/// Whether a PUT asks for the new world back (`?echo=true`): a caller that places many worlds
/// should not pay for reading each one back.
fn wants_echo(query: Option<&str>) -> bool {
    query
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "echo=true")
}

fn world_answer(emulator: &Emulator, query: Option<&str>) -> Response {
    let world = emulator.world();
    if wants_secrets(query) {
        Json(world).into_response()
    } else {
        Json(world.redacted()).into_response()
    }
}

async fn get_world(State(emulator): State<Emulator>, RawQuery(query): RawQuery) -> Response {
    world_answer(&emulator, query.as_deref())
}

async fn put_world(
    State(emulator): State<Emulator>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match World::from_json(&body) {
        Ok(world) => match emulator.set_world(world) {
            Ok(()) if wants_echo(query.as_deref()) => world_answer(&emulator, query.as_deref()),
            Ok(()) => Json(json!({"status": "ok"})).into_response(),
            Err(e) => problem(StatusCode::BAD_REQUEST, e.to_string()),
        },
        Err(e) => problem(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    now: Option<f64>,
}

async fn set_clock(State(emulator): State<Emulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockBody>(&body) {
        Ok(c) => {
            emulator.set_clock(c.now.map(|n| n.floor() as i64));
            Json(status(&emulator)).into_response()
        }
        Err(e) => problem(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"now\": <unix seconds> | null}}: {e}"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    rate_limits: Option<bool>,
    verify_signatures: Option<bool>,
    check_nonces: Option<bool>,
    alibaba_skew_seconds: Option<i64>,
    preferred_codes: Option<Vec<String>>,
}

async fn set_config(State(emulator): State<Emulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<ConfigBody>(&body) {
        Ok(c) => {
            let mut s = emulator.shared.settings.write();
            if let Some(v) = c.rate_limits {
                s.rate_limits = v;
            }
            if let Some(v) = c.verify_signatures {
                s.auth.verify_signatures = v;
            }
            if let Some(v) = c.check_nonces {
                s.auth.check_nonces = v;
            }
            if let Some(v) = c.alibaba_skew_seconds {
                s.auth.alibaba_skew_secs = Some(v);
            }
            if let Some(v) = c.preferred_codes {
                s.preferred_codes = v;
            }
            drop(s);
            Json(status(&emulator)).into_response()
        }
        Err(e) => problem(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"rate_limits\": bool, …}}: {e}"),
        ),
    }
}
