--[[
  The request of a slot left (see send-stamp.ts): the slot counts from Redis's clock now, never
  from earlier than before, and its tokens drain in the provider's bucket only from now: what
  the queue's bucket drained of them since they counted from goes back in. A slot no longer in
  the log (or a reservation no longer in the bucket) is not put back.

  Input:
    KEYS[1..5] as acquire-5

    ARGV[1] the queue
    ARGV[2] the slot
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5] how long the log must live at least from now, ms

  Output:
    1
]]

--- @include "includes/window"

local at = redis.call('ZSCORE', KEYS[1], ARGV[2])
if at and tonumber(at) < now then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
end
if maxTokens then
  local tokens, from = string.match(redis.call('HGET', KEYS[5], ARGV[2]) or '', '^(%d+):([%d.e+-]+)$')
  tokens = tonumber(tokens)
  from = tonumber(from)
  if tokens and from and from < now then
    admitted = admitted + math.min(tokens, (now - from) * rate)
    redis.call('HSET', KEYS[5], ARGV[2], tokens .. ':' .. string.format('%.17g', now))
    saveBucket()
  end
end
return 1
