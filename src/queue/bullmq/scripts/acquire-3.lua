--[[
  Takes rate slots of a queue: one for a job's start or a request, or up to ARGV[5] at once for
  several callers of one process. Slot i of an ask is named ARGV[2]..':'..i.

  Input:
    KEYS[1] the queue's log, KEYS[2] the limits hash, KEYS[3] the queue's caution margin (see
            includes/window)

    ARGV[1] the queue
    ARGV[2] the ask's name
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5] (optional) how many slots to take at most

  Output, without ARGV[5]:
    0      a slot was taken
    ms     the time until one frees (> 0)
  with ARGV[5]:
    {taken, ms}  slots taken, and the time until the next frees (0 when all were taken)
]]

--- @include "includes/window"

local want = tonumber(ARGV[5])
if not limit then
  if want then return {want, 0} end
  return 0
end
local free = max - redis.call('ZCARD', KEYS[1])
local take = math.min(math.max(free, 0), want or 1)
for i = 1, take do redis.call('ZADD', KEYS[1], now, ARGV[2] .. ':' .. i) end
if take > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(interval)) end
local wait = 0
if take < (want or 1) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(1, math.ceil(tonumber(oldest[2]) + interval - now))
end
if want then return {take, wait} end
return wait
