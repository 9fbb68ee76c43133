-- Hold every upstream call of the fleet until a back-off ends (a 429's Retry-After).
-- KEYS: pause. ARGV: back-off µs.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ends = now + tonumber(ARGV[1])
local held = redis.pcall('GET', KEYS[1])
if type(held) ~= 'string' or ends > (tonumber(held) or 0) then
  redis.call('SET', KEYS[1], string.format('%.0f', ends), 'PX', math.ceil(ARGV[1] / 1000))
end
return 1
