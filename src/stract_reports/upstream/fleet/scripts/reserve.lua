-- Reserve the fleet's next free upstream slot (GCRA), behind any back-off in force.
-- KEYS: next slot, pause. ARGV: interval µs (0: no rate), burst slack µs, longest wait µs,
-- longest hold µs. Times are Redis's own clock in µs, so every host reserves against one clock.
-- Lua numbers are doubles (exact to 2^53 µs); they are written with %.0f because tostring would
-- round them.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold = tonumber(ARGV[4])

-- What is read is bounded: a time past the longest hold, or a key without its expiry (none of
-- ours), holds calls until now + hold at most, and expires then; what is no finite number
-- holds nothing.
local function bounded(key)
  local raw = redis.pcall('GET', key)
  if type(raw) ~= 'string' then
    if raw then redis.call('DEL', key) end -- a key of another type
    return 0
  end
  local value = tonumber(raw)
  if not value or value ~= value or value == math.huge or value == -math.huge then
    redis.call('DEL', key)
    return 0
  end
  if value > now + hold or redis.call('PTTL', key) == -1 then
    value = math.min(value, now + hold)
    if value > now then
      redis.call('SET', key, string.format('%.0f', value), 'PX', math.ceil((value - now) / 1000))
    else
      redis.call('DEL', key)
    end
  end
  return value
end

local interval = tonumber(ARGV[1])
local tat = bounded(KEYS[1])
local slot = math.max(now, bounded(KEYS[2]))
if interval > 0 then slot = math.max(slot, tat - tonumber(ARGV[2])) end
local wait = slot - now
if wait > tonumber(ARGV[3]) then return {0, wait} end
if interval > 0 then
  local after = math.max(tat, slot) + interval
  redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX',
             math.ceil((after - now) / 1000) + 1000)
end
return {1, wait}
