//! `GET /admin/consumers/{id}/usage`: a consumer's plan quota and how much of it is used.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use gatehouse_config::model::{QuotaPeriod, QuotaScope};
use gatehouse_store::quota::{SystemWallClock, WallClock, period_window, quota_key, scope_id};
use http::StatusCode;
use serde_json::{Value, json};

use crate::AdminState;
use crate::routes::{json_response, problem};

/// `{ consumer, plan, quota: { requests, period, scope, used, resets_at_unix } }`; `quota` is
/// `null` without a plan quota; `used`/`resets_at_unix` are `null` for rolling periods (not
/// enforced) and for a tenant-scoped quota of a consumer without a tenant. 404 for an unknown
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
    let (used, resets_at) = match (scope_value, period_window(q.period, now)) {
        (Some(v), Some(window)) => {
            let counter = snapshot.limiters().quota();
            let key = quota_key(&scope_id(q.scope, v), &window);
            match counter.get(&key).await {
                Ok(used) => (Value::from(used), Value::from(window.end_unix)),
                Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
            }
        }
        _ => (Value::Null, Value::Null),
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
