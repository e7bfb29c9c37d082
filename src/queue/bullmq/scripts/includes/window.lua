--[[
  The window of a queue's sliding log of rate slots, and its token bucket, included by every
  script but caution-2 (rate-limiter.ts is the same for one process).

  Drops the slots that left the window. With a token limit (when the script has KEYS[4] and
  KEYS[5]) the bucket empties continuously at maxTokens a window (plus its margin), as OpenAI
  refills an account's TPM; it drains oldest first.
  A limit missing from Redis (flushed, or restarted without persistence) is written back from
  ARGV[3], so a lost hash never means "no limit".

  Input:
    KEYS[1] the log: a zset of slots scored by the time they count from (Redis's clock, ms)
    KEYS[2] the limits hash: queue -> 'max:intervalMs' or 'max:intervalMs:maxTokens'
    KEYS[3] the queue's caution margin after a 429, 'ms:widenedAt' (see caution-2; absent when
            none is in force)
    KEYS[4] (optional) the bucket's reservations: a zset scored by where each ends in the
            running total of tokens admitted
    KEYS[5] (optional) the bucket: a hash of '~admitted' and '~drained' (running totals; the
            level is their difference), '~at' (when '~drained' was counted) and each
            reservation's tokens

    ARGV[1] the queue
    ARGV[3] the limit this process last configured for it ('' when none)
    ARGV[4] this process's recent event-loop delay, ms (loop-lag.ts)

  Sets:
    limit      the limit, nil when the queue has none
    max        slots a window holds
    maxTokens  tokens a window holds, nil when the queue has no token limit
    interval   the window plus its margin, ms
    now        Redis's clock, ms
    used       tokens in the bucket (0 without a token limit)
    admitted   the bucket's running total of tokens admitted
    drained    the bucket's running total of tokens drained
    rate       tokens drained per ms
]]
local limit = redis.call('HGET', KEYS[2], ARGV[1])
if not limit and ARGV[3] ~= '' then
  limit = ARGV[3]
  redis.call('HSET', KEYS[2], ARGV[1], limit)
end
local max, interval, maxTokens
local used = 0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
if limit then
  max, interval, maxTokens = string.match(limit, '^(%d+):([%d.]+):?(%d*)$')
  max = tonumber(max)
  maxTokens = tonumber(maxTokens)
  -- The window is kept a margin longer than the limit (rateWindowMargin in rate-limiter.ts): 5%
  -- of it, at least 50 ms, at most 500 ms; or the caution margin after the provider answered 429;
  -- or the caller's recent event-loop delay (up to one more window), whichever is longest. The
  -- provider counts a request when it arrives, a variable time after its slot was stamped.
  interval = tonumber(interval)
  local caution = tonumber(string.match(redis.call('GET', KEYS[3]) or '', '^([%d.]+)')) or 0
  interval = interval + math.max(math.min(math.max(interval * 0.05, 50), 500), caution, math.min(tonumber(ARGV[4]) or 0, interval))
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
end
local admitted, drained, rate = 0, 0, 0

-- Empties the bucket up to now and forgets the reservations drained a whole bucket ago (a late
-- send or a settle may still need the others). Needs maxTokens.
local function drain()
  local b = redis.call('HMGET', KEYS[5], '~admitted', '~drained', '~at')
  admitted = tonumber(b[1]) or 0
  drained = tonumber(b[2]) or 0
  rate = maxTokens / interval
  local at = tonumber(b[3])
  if not at then drained = admitted elseif now > at then drained = math.min(admitted, drained + (now - at) * rate) end
  repeat
    local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', drained - maxTokens, 'LIMIT', 0, 500)
    if #old > 0 then
      redis.call('ZREM', KEYS[4], unpack(old))
      redis.call('HDEL', KEYS[5], unpack(old))
    end
  until #old < 500
  used = admitted - drained
end

-- Writes the bucket's totals back and keeps its keys as long as the log.
local function saveBucket()
  redis.call('HSET', KEYS[5], '~admitted', string.format('%.17g', admitted), '~drained', string.format('%.17g', drained), '~at', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[4], math.ceil(interval))
  redis.call('PEXPIRE', KEYS[5], math.ceil(interval))
end

if maxTokens and KEYS[5] then drain() end

-- Ms until the log has a free slot, counted from `now` (at least 1).
local function slotWait()
  local n = redis.call('ZCARD', KEYS[1])
  local at = redis.call('ZRANGE', KEYS[1], math.max(0, n - max), math.max(0, n - max), 'WITHSCORES')
  if not at[2] then return 1 end
  return math.max(1, math.ceil(tonumber(at[2]) + interval - now))
end

-- Ms until `over` more tokens have drained (at least 1).
local function tokenWait(over)
  return math.max(1, math.ceil(over / rate))
end
