//! `GET /admin/consumers/{id}/usage`: a consumer's plan quota and how much of it is used.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use gatehouse_config::model::{QuotaPeriod, QuotaScope};
use gatehouse_plugins::builtin::rate_limit::quota;
use gatehouse_store::quota::{SystemWallClock, WallClock, scope_id};
use http::StatusCode;
use serde_json::{Value, json};

use crate::AdminState;
use crate::routes::{json_response, problem};

/// `{ consumer, plan, quota: { requests, period, scope, used, resets_at_unix } }`; `quota` is
/// `null` without a plan quota; `used`/`resets_at_unix` are `null` for a tenant-scoped quota of
/// a consumer without a tenant. For rolling periods `used` is the count in the sliding window and
/// `resets_at_unix` the moment nothing of it is counted any more. 404 for an unknown
/// consumer, 503 when the quota store cannot be read.
pub(crate) async fn usage(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Response {
    let snapshot = state.reloader.gateway().snapshot();
    let Some(consumer) = snapshot.config.consumers.iter().find(|c| c.id == id) else {
        return problem(StatusCode::NOT_FOUND, &format!("unknown consumer {id:?}"));
    };
    let plan_quota = consumer
        .plan
        .as_deref()
        .and_then(|p| snapshot.config.plans.iter().find(|plan| plan.name == p))
        .and_then(|p| p.quota.as_ref());
    let Some(q) = plan_quota else {
        return json_response(
            StatusCode::OK,
            json!({ "consumer": consumer.id, "plan": consumer.plan, "quota": null }),
        );
    };
    let scope_value = match q.scope {
        QuotaScope::Consumer => Some(consumer.id.as_str()),
        QuotaScope::Tenant => consumer.tenant.as_deref(),
    };
    let now = SystemWallClock.now_unix();
    let (used, resets_at) = match scope_value {
        Some(v) => {
            let counter = snapshot.limiters().quota();
            let id = scope_id(q.scope, v);
            match quota::usage(counter.as_ref(), q, &id, now).await {
                Ok(Some((used, window))) => (Value::from(used), Value::from(window.end_unix)),
                Ok(None) => (Value::Null, Value::Null),
                Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
            }
        }
        None => (Value::Null, Value::Null),
    };
    let period = match q.period {
        QuotaPeriod::Day => "day",
        QuotaPeriod::Month => "month",
        QuotaPeriod::RollingDay => "rolling_day",
        QuotaPeriod::RollingMonth => "rolling_month",
    };
    let scope = match q.scope {
        QuotaScope::Consumer => "consumer",
        QuotaScope::Tenant => "tenant",
    };
    json_response(
        StatusCode::OK,
        json!({
            "consumer": consumer.id,
            "plan": consumer.plan,
            "quota": {
                "requests": q.requests,
                "period": period,
                "scope": scope,
                "used": used,
                "resets_at_unix": resets_at,
            },
        }),
    )
}
