--[[
  Widens a queue's caution margin after a 429, as widenedMargin in rate-limiter.ts does (at most
  one doubling a window). Read, compute and write in one script, so that 429s seen by several
  workers at once are counted by the same rule and none is lost to a race (a GET then SET from
  each worker could overwrite a wider value).

  Input:
    KEYS[1] the queue's caution key: 'ms:widenedAt' (Redis's clock, ms)
    KEYS[2] the limits hash: queue -> 'max:intervalMs'

    ARGV[1] the queue
    ARGV[2] the limit this process configured for it ('' when none)
    ARGV[3] how long the margin stays in force, ms

  Output:
    the new margin, ms; 0 (nothing written) when the queue has no rate limit
]]
local limit = redis.call('HGET', KEYS[2], ARGV[1])
if not limit and ARGV[2] ~= '' then limit = ARGV[2] end
if not limit then return 0 end
local interval = tonumber(string.match(limit, '^%d+:([%d.]+)'))
if not interval then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur, at = string.match(redis.call('GET', KEYS[1]) or '', '^([%d.]+):(%d+)$')
cur = tonumber(cur) or 0
at = tonumber(at) or 0
local ms = cur
if cur == 0 or now - at >= interval then
  ms = math.min(interval, math.max(math.min(math.max(interval * 0.15, 250), 500), 2 * cur))
  at = now
end
redis.call('SET', KEYS[1], tostring(ms) .. ':' .. tostring(at), 'PX', ARGV[3])
return ms
