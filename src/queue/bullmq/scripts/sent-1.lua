--[[
  The request of a slot left: the slot counts from Redis's clock now (see send-stamp.ts), never
  from earlier than before. A slot no longer in the log is not put back.

  Input:
    KEYS[1] the queue's log

    ARGV[1] the slot
    ARGV[2] how long the log must live at least from now, ms

  Output:
    1
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) < now then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
return 1
