--[[
  The request of a slot left: the slot (and its token reservation) counts from Redis's clock now
  (see send-stamp.ts), never from earlier than before. A slot no longer in the log is not put back.

  Input:
    KEYS[1] the queue's log
    KEYS[2] the queue's token log

    ARGV[1] the slot
    ARGV[2] how long the logs must live at least from now, ms

  Output:
    1
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for k = 1, 2 do
  local at = redis.call('ZSCORE', KEYS[k], ARGV[1])
  if at and tonumber(at) < now then
    redis.call('ZADD', KEYS[k], now, ARGV[1])
    if redis.call('PTTL', KEYS[k]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[k], ARGV[2]) end
  end
end
return 1
