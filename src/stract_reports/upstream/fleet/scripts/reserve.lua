-- Reserve the fleet's next free upstream slot (GCRA), behind any back-off in force.
-- KEYS: next slot, pause. ARGV: interval µs (0: no rate), burst slack µs, longest wait µs.
-- Times are Redis's own clock in µs, so every host reserves against one clock. Lua numbers are
-- doubles (exact to 2^53 µs); they are written with %.0f because tostring would round them.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
if interval > 0 then slot = math.max(slot, tat - tonumber(ARGV[2])) end
local wait = slot - now
if wait > tonumber(ARGV[3]) then return {0, wait} end
if interval > 0 then
  local after = math.max(tat, slot) + interval
  redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX',
             math.ceil((after - now) / 1000) + 1000)
end
return {1, wait}
