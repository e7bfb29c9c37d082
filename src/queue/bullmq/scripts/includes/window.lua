--[[
  The window of a queue's sliding log of rate slots, included by acquire-5, refit-3 and observe-5.

  Drops the slots that left the window, and with a token limit the token reservations that did
  (when the script has KEYS[4] and KEYS[5]). A limit missing from Redis (flushed, or restarted
  without persistence) is written back from ARGV[3], so a lost hash never means "no limit".

  Input:
    KEYS[1] the log: a zset of slots scored by the time they count from (Redis's clock, ms)
    KEYS[2] the limits hash: queue -> 'max:intervalMs' or 'max:intervalMs:maxTokens'
    KEYS[3] the queue's caution margin after a 429, 'ms:widenedAt' (see caution-2; absent when
            none is in force)
    KEYS[4] (optional) the token log: a zset of reservations scored like KEYS[1]
    KEYS[5] (optional) the reservations' tokens: a hash member -> tokens, and '~sum' their sum

    ARGV[1] the queue
    ARGV[3] the limit this process last configured for it ('' when none)
    ARGV[4] this process's recent event-loop delay, ms (loop-lag.ts)

  Sets:
    limit      the limit, nil when the queue has none
    max        slots a window holds
    maxTokens  tokens a window holds, nil when the queue has no token limit
    interval   the window plus its margin, ms
    now        Redis's clock, ms
    used       tokens reserved in the window (0 without a token limit)
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
  if maxTokens and KEYS[5] then
    -- Reservations that left the window, a bounded batch at a time, taken off the sum.
    repeat
      local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - interval, 'LIMIT', 0, 500)
      if #old > 0 then
        local w = redis.call('HMGET', KEYS[5], unpack(old))
        local freed = 0
        for i = 1, #w do freed = freed + (tonumber(w[i]) or 0) end
        redis.call('ZREM', KEYS[4], unpack(old))
        redis.call('HDEL', KEYS[5], unpack(old))
        -- Never HINCRBY by -0: Redis reads "-0" as no integer.
        if freed > 0 then redis.call('HINCRBY', KEYS[5], '~sum', 0 - freed) end
      end
    until #old < 500
    used = tonumber(redis.call('HGET', KEYS[5], '~sum')) or 0
    if used < 0 or redis.call('ZCARD', KEYS[4]) == 0 then
      used = 0
      redis.call('HSET', KEYS[5], '~sum', 0)
    end
  end
end

-- Ms until the log has a free slot, counted from `now` (at least 1).
local function slotWait()
  local n = redis.call('ZCARD', KEYS[1])
  local at = redis.call('ZRANGE', KEYS[1], math.max(0, n - max), math.max(0, n - max), 'WITHSCORES')
  if not at[2] then return 1 end
  return math.max(1, math.ceil(tonumber(at[2]) + interval - now))
end

-- Ms until `over` reserved tokens have left the window (at least 1; a whole window when the
-- oldest reservations do not free that many).
local function tokenWait(over)
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 255, 'WITHSCORES')
  local freed = 0
  for i = 1, #oldest, 2 do
    freed = freed + (tonumber(redis.call('HGET', KEYS[5], oldest[i])) or 0)
    if freed >= over then return math.max(1, math.ceil(tonumber(oldest[i + 1]) + interval - now)) end
  end
  return math.ceil(interval)
end

-- Keeps the token keys as long as the log.
local function keepTokens()
  redis.call('PEXPIRE', KEYS[4], math.ceil(interval))
  redis.call('PEXPIRE', KEYS[5], math.ceil(interval))
end
