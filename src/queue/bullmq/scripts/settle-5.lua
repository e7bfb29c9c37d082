--[[
  A request's tokens as the provider counted them replace what its slot put in the bucket: more
  are added; of fewer, only what has not drained yet goes back (the bucket drains oldest first,
  and tokens drained already may have let later reservations in). A reservation no longer in the
  bucket is left alone.

  Input:
    KEYS[1..5] as acquire-5

    ARGV[1] the queue
    ARGV[2] the slot
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5] the tokens the request used

  Output:
    1
]]

--- @include "includes/window"

if not maxTokens then return 1 end
local reserved = tonumber(redis.call('HGET', KEYS[5], ARGV[2]))
local ends = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[2]))
if not reserved or not ends then return 1 end
local n = math.max(0, math.ceil(tonumber(ARGV[5]) or 0))
if n > reserved then
  admitted = admitted + n - reserved
else
  drained = drained + math.min(reserved - n, math.max(0, ends - drained))
end
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[2])
saveBucket()
return 1
