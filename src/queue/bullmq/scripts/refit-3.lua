--[[
  Moves slots whose grant reached their process late to Redis's clock now, as many as the window
  still has room for; the others are given back and their callers wait (see refitIfLate in
  rate-slots.ts).

  Input:
    KEYS[1] the queue's log, KEYS[2] the limits hash, KEYS[3] the queue's caution margin (see
            includes/window)

    ARGV[1] the queue
    ARGV[2] unused
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5..] the slots, in order

  Output:
    {kept, ms}  slots kept (the first ones), and the time until the next frees (0 when all were
                kept)
]]

--- @include "includes/window"

local n = #ARGV - 4
if not limit then return {n, 0} end
for i = 5, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local keep = math.min(math.max(max - redis.call('ZCARD', KEYS[1]), 0), n)
for i = 1, keep do redis.call('ZADD', KEYS[1], now, ARGV[4 + i]) end
if keep > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(interval)) end
local wait = 0
if keep < n then
  wait = slotWait()
end
return {keep, wait}
