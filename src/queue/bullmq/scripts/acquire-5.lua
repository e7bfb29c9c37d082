--[[
  Takes rate slots of a queue: one for a job's start or a request, or up to ARGV[5] at once for
  several callers of one process, each putting its tokens in the queue's token bucket when it
  has a token limit. Slot i of an ask is named ARGV[2]..':'..i, in the log and in the bucket.

  Input:
    KEYS[1..5] the queue's log, the limits hash, the caution margin, the token log and the
               reservations' tokens (see includes/window)

    ARGV[1] the queue
    ARGV[2] the ask's name
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5] how many slots to take at most ('' for one, answered without a table)
    ARGV[6..] the tokens each slot reserves, in order (missing: 0)

  Output, without ARGV[5]:
    0      a slot was taken
    ms     the time until one may be free (> 0)
  with ARGV[5]:
    {taken, ms}  slots taken, and the time until the next may be free (0 when all were taken)
]]

--- @include "includes/window"

local want = tonumber(ARGV[5])
if not limit then
  if want then return {want, 0} end
  return 0
end
local n = want or 1
local free = max - redis.call('ZCARD', KEYS[1])
local take = 0
local wait = 0
for i = 1, n do
  if free <= 0 then
    wait = slotWait()
    break
  end
  local tokens = 0
  if maxTokens then
    tokens = math.min(math.max(math.ceil(tonumber(ARGV[5 + i]) or 0), 0), maxTokens)
    if used + tokens > maxTokens then
      wait = tokenWait(used + tokens - maxTokens)
      break
    end
  end
  local member = ARGV[2] .. ':' .. i
  redis.call('ZADD', KEYS[1], now, member)
  if tokens > 0 then
    admitted = admitted + tokens
    redis.call('ZADD', KEYS[4], admitted, member)
    redis.call('HSET', KEYS[5], member, tokens)
    used = used + tokens
  end
  free = free - 1
  take = take + 1
end
if take > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(interval))
  if maxTokens then saveBucket() end
end
if want then return {take, wait} end
return wait
