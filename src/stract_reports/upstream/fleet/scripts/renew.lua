-- Keep our lock on a read alive while we read.
-- KEYS: lock. ARGV: our id, lock ms.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
