-- Hand a read's body over to whoever joined it (and to the cache), and free the read.
-- KEYS: lock, last. ARGV: the read's key prefix, our id, body, result ms, cache ms, channel,
-- message.
local joined = redis.call('DEL', ARGV[1] .. 'join:' .. ARGV[2]) == 1
if joined or ARGV[5] ~= '0' then
  redis.call('SET', ARGV[1] .. 'res:' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
end
if ARGV[5] ~= '0' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5]) end
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('DEL', KEYS[1]) end
if joined then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return 1
