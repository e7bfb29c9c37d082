--[[
  The request of a slot left (see send-stamp.ts): the slot counts from Redis's clock now, never
  from earlier than before, and its tokens are all in the provider's bucket now: what the
  queue's bucket drained of them meanwhile goes back in (none while it stayed busy with older
  ones). A slot no longer in the log (or a reservation no longer in the bucket) is not put back;
  sent once per slot.

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
  local tokens = tonumber(redis.call('HGET', KEYS[5], ARGV[2]))
  local ends = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[2]))
  if tokens and ends then
    local back = math.min(tokens, math.max(0, drained - (ends - tokens)))
    if back > 0 then
      admitted = admitted + back
      saveBucket()
    end
  end
end
return 1
