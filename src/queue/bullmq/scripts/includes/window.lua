--[[
  The window of a queue's sliding log of rate slots, included by acquire-3 and refit-3.

  Drops the slots that left the window. A limit missing from Redis (flushed, or restarted
  without persistence) is written back from ARGV[3], so a lost hash never means "no limit".

  Input:
    KEYS[1] the log: a zset of slots scored by the time they count from (Redis's clock, ms)
    KEYS[2] the limits hash: queue -> 'max:intervalMs'
    KEYS[3] the queue's caution margin after a 429, 'ms:widenedAt' (see caution-2; absent when
            none is in force)

    ARGV[1] the queue
    ARGV[3] the limit this process last configured for it, 'max:intervalMs' ('' when none)
    ARGV[4] this process's recent event-loop delay, ms (loop-lag.ts)

  Sets:
    limit     the limit ('max:intervalMs'), nil when the queue has none
    max       slots a window holds
    interval  the window plus its margin, ms
    now       Redis's clock, ms
]]
local limit = redis.call('HGET', KEYS[2], ARGV[1])
if not limit and ARGV[3] ~= '' then
  limit = ARGV[3]
  redis.call('HSET', KEYS[2], ARGV[1], limit)
end
local max, interval
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
if limit then
  max, interval = string.match(limit, '^(%d+):([%d.]+)$')
  max = tonumber(max)
  -- The window is kept a margin longer than the limit (rateWindowMargin in rate-limiter.ts): 5%
  -- of it, at least 50 ms, at most 500 ms; or the caution margin after the provider answered 429;
  -- or the caller's recent event-loop delay (up to one more window), whichever is longest. The
  -- provider counts a request when it arrives, a variable time after its slot was stamped.
  interval = tonumber(interval)
  local caution = tonumber(string.match(redis.call('GET', KEYS[3]) or '', '^([%d.]+)')) or 0
  interval = interval + math.max(math.min(math.max(interval * 0.05, 50), 500), caution, math.min(tonumber(ARGV[4]) or 0, interval))
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
end
