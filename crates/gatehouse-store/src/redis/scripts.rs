//! The Lua scripts: the same arithmetic as `memory/algo.rs`, in microseconds of Redis's clock.
//!
//! Both take one key (`KEYS[1]`) and return `{allowed, remaining, reset_after_us, retry_after_us}`
//! (`retry_after_us` = -1 when allowed). Time comes from `TIME` inside the script, so gateway
//! clocks may disagree. `redis.replicate_commands()` is called when it exists: Redis < 5 needs it
//! before a write that follows `TIME`; from 5 on it is the default (a deprecated no-op in 7.x
//! builds; guarded in case a future Redis drops it).

/// GCRA: `ARGV = {per_us, requests, burst, cost}`; the key holds the TAT (µs, a string).
pub(crate) const GCRA: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per = tonumber(ARGV[1])
local requests = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local em = per / requests
local dvt = em * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + em * cost
if new_tat - now <= dvt then
  local ttl = math.ceil((new_tat - now) / 1000) + 1
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
  return {1, math.floor((dvt - (new_tat - now)) / em), math.ceil(new_tat - now), -1}
end
local left = dvt - (tat - now)
if left < 0 then left = 0 end
local retry = new_tat - dvt - now
if retry < 0 then retry = 0 end
return {0, math.floor(left / em), math.ceil(tat - now), math.ceil(retry)}
"#;

/// Sliding-window counter: `ARGV = {per_us, requests, cost}`; the key is a hash with the window
/// index `w`, the current count `c` and the previous count `p`.
pub(crate) const SLIDING_WINDOW: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local idx = math.floor(now / per)
local e = now - idx * per
local v = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(v[1])
local c = tonumber(v[2]) or 0
local p = tonumber(v[3]) or 0
if w == idx - 1 then
  p = c
  c = 0
elseif w ~= idx then
  p = 0
  c = 0
end
local used = c + math.ceil(p * (per - e) / per)
local function reset()
  if c > 0 then return 2 * per - e end
  if p > 0 then return per - e end
  return 0
end
local function earliest(prev, room)
  if prev == 0 then return 0 end
  local span = math.floor(room * per / prev)
  if span > per then span = per end
  return per - span
end
if used + cost <= limit then
  c = c + cost
  redis.call('HSET', KEYS[1], 'w', string.format('%.0f', idx), 'c', c, 'p', p)
  redis.call('PEXPIRE', KEYS[1], math.ceil((2 * per - e) / 1000) + 1)
  return {1, limit - used - cost, reset(), -1}
end
local retry
if c + cost <= limit then
  retry = earliest(p, limit - c - cost) - e
  if retry < 0 then retry = 0 end
elseif cost <= limit then
  retry = per - e + earliest(c, limit - cost)
else
  retry = reset()
  if retry < 1 then retry = 1 end
end
local left = limit - used
if left < 0 then left = 0 end
return {0, left, reset(), retry}
"#;
