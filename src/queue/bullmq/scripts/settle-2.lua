--[[
  A request's tokens as the provider counted them replace what its slot reserved. A reservation
  that already left the window is not put back.

  Input:
    KEYS[1] the queue's token log
    KEYS[2] the reservations' tokens (member -> tokens, '~sum')

    ARGV[1] the slot
    ARGV[2] the tokens the request used

  Output:
    1
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
  local n = math.max(0, math.ceil(tonumber(ARGV[2]) or 0))
  redis.call('HSET', KEYS[2], ARGV[1], n)
  if n ~= old then redis.call('HINCRBY', KEYS[2], '~sum', n - old) end
end
return 1
