-- Claim a read: its body if it is done, else wait for the process reading it, else read it.
-- KEYS: lock, last. ARGV: the read's key prefix, id joined (or ''), our id, lock ms, reuse
-- finished bodies ('1'/'0'), result ms. A waiter marks the read it joins, so a body nobody
-- waits for (and that no cache wants) is never written.
if ARGV[2] ~= '' then
  local body = redis.call('GET', ARGV[1] .. 'res:' .. ARGV[2])
  if body then return {'done', body} end
end
local holder = redis.call('GET', KEYS[1])
if holder then
  -- Ours hold a 16-hex-digit id and live at most lock ms: anything else is taken over.
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or ttl > tonumber(ARGV[4]) or #holder ~= 16 or not string.match(holder, '^%x+$') then
    holder = false
  end
end
if holder then
  redis.call('SET', ARGV[1] .. 'join:' .. holder, '1', 'PX', ARGV[6])
  return {'wait', holder}
end
if ARGV[5] == '1' then
  local last = redis.call('GET', KEYS[2])
  if last then
    local body = redis.call('GET', ARGV[1] .. 'res:' .. last)
    if body then return {'done', body} end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return {'read', ARGV[3]}
