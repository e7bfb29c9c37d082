--[[
  The provider said what is left of its window (OpenAI's x-ratelimit-remaining-* and -reset-*
  headers): what the queue counts free beyond that (another program spent it) is held: requests
  as slots that leave the window at the provider's reset, tokens in the bucket, where they drain
  as the queue's own do.

  Input:
    KEYS[1..5] as acquire-5

    ARGV[1] the queue
    ARGV[2] a name for what is held
    ARGV[3] the limit this process last configured for the queue ('' when none)
    ARGV[4] this process's recent event-loop delay, ms
    ARGV[5] requests remaining ('' when not said)
    ARGV[6] ms until the request limit is full again
    ARGV[7] tokens remaining ('' when not said)
    ARGV[8] ms until the token limit is full again (unused: the bucket drains by itself)
    ARGV[9] the account's request limit the provider states ('' when not said)
    ARGV[10] the account's token limit the provider states ('' when not said)

  A queue whose window is a minute (the window of the limits OpenAI states) adopts a stated limit
  lower than its own, or a token limit when it has none, for every worker (until a process
  configures the queue again).

  Output:
    {requests held, tokens held}
]]

--- @include "includes/window"

if not limit then return {0, 0} end
local window = tonumber(string.match(limit, '^%d+:([%d.]+)'))
local base = interval - window
if window == 60000 then
  local statedRequests = tonumber(ARGV[9])
  local statedTokens = tonumber(ARGV[10])
  local lowered = false
  if statedRequests and statedRequests < max then max = statedRequests; lowered = true end
  if statedTokens and (not maxTokens or statedTokens < maxTokens) then maxTokens = statedTokens; lowered = true end
  if lowered then
    redis.call('HSET', KEYS[2], ARGV[1], max .. ':' .. window .. (maxTokens and (':' .. maxTokens) or ''))
    -- A token limit just adopted starts from the bucket as it is (empty unless set before).
    drain()
  end
end
local heldRequests = 0
local heldTokens = 0
local remaining = tonumber(ARGV[5])
if remaining then
  local reset = math.min(tonumber(ARGV[6]) or (interval - base), interval - base)
  heldRequests = math.min(max, max - redis.call('ZCARD', KEYS[1]) - remaining)
  for k = 1, heldRequests do redis.call('ZADD', KEYS[1], now + reset - interval, ARGV[2] .. ':r' .. k) end
  if heldRequests > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(interval)) end
end
remaining = tonumber(ARGV[7])
if maxTokens and remaining then
  heldTokens = math.min(maxTokens, maxTokens - used - remaining)
  if heldTokens > 0 then
    admitted = admitted + heldTokens
    saveBucket()
  end
end
return {math.max(heldRequests, 0), math.max(heldTokens, 0)}
