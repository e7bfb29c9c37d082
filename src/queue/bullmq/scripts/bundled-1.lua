--[[
  Which of these step runs a live job already carries, and, atomically, the bundle that carries
  each of the others from now (see `addQueue` in driver.ts). Two processes that enqueue the same
  step runs at once (a run's start and a reconciler) then add one job for each, not two bundles.

  A members-hash entry is '<bundle job id>|<ms>': the bundle carries the member while its job
  exists, or within the grace after the entry was written (its process is adding the job). An
  entry whose bundle job is gone after that (finished, failed, or never added by a process that
  died) is forgotten here. An entry of an older release (no '|') is live only while its job exists.

  Input:
    KEYS[1] the queue's members hash: step-run id -> '<bundle job id>|<ms>'

    ARGV[1] the queue's BullMQ key prefix ('<prefix>:<queue>:'): a job's hash is it + the job id
    ARGV[2] grace in ms
    ARGV[3..] triples: step-run id, the job id of its own job, the bundle planned for it ('' for
              its own job)

  Output:
    one flag per step run: 1 when a live job carries it (add nothing), else 0 (add the job
    planned; a planned bundle now owns its entry)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 3 do
  local id, own, planned = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local carried = redis.call('EXISTS', ARGV[1] .. own) == 1
  if not carried then
    local entry = redis.call('HGET', KEYS[1], id)
    if entry then
      local bar = string.find(entry, '|', 1, true)
      local bundle = bar and string.sub(entry, 1, bar - 1) or entry
      local at = bar and tonumber(string.sub(entry, bar + 1)) or 0
      carried = redis.call('EXISTS', ARGV[1] .. bundle) == 1 or now - at < grace
      if not carried and planned == '' then redis.call('HDEL', KEYS[1], id) end
    end
  end
  if not carried and planned ~= '' then redis.call('HSET', KEYS[1], id, planned .. '|' .. now) end
  out[#out + 1] = carried and 1 or 0
end
return out
