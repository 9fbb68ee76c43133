-- A read failed: free it and wake its waiters, who then read for themselves.
-- KEYS: lock. ARGV: our id, channel, message.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
