--[[
  Which of these step runs a live bundle already carries (see `addQueue` in driver.ts): enqueueing
  one of those again adds no job. A member whose bundle job is gone (finished, failed, or never
  added by a process that died) is forgotten here.

  Input:
    KEYS[1] the queue's members hash: step-run id -> bundle job id

    ARGV[1] the queue's BullMQ key prefix ('<prefix>:<queue>:'): a job's hash is it + the job id
    ARGV[2..] step-run ids

  Output:
    one flag per id: 1 when a live bundle carries it, else 0
]]
local out = {}
for i = 2, #ARGV do
  local bundle = redis.call('HGET', KEYS[1], ARGV[i])
  if bundle and redis.call('EXISTS', ARGV[1] .. bundle) == 1 then
    out[i - 1] = 1
  else
    if bundle then redis.call('HDEL', KEYS[1], ARGV[i]) end
    out[i - 1] = 0
  end
end
return out
