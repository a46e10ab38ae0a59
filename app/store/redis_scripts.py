"""The Redis store's Lua scripts: each runs atomically on the node that holds its keys."""

# Every script but RESERVE and MOVE_ALL (one Redis only) touches one slot's keys: a verification's, all under
# its id's hash tag, or a number's index; so each may live on its own node of a cluster. None recreates a
# record that expired meanwhile.
# A check's hold: KEYS[2] names its holder while the hold is live (it expires by itself), the record's
# 'hold' field the last holder. A hold that ran out with the field still set was a check whose answer was
# lost. Sent again by redis-py after a lost answer, the script finds its own hold and counts nothing more.
BEGIN_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local holder = redis.call('GET', KEYS[2])
local busy = 0
if holder ~= ARGV[1] then
  if holder then
    busy = 1
  else
    local last = redis.call('HGET', KEYS[1], 'hold')
    if last and last ~= '' then redis.call('HSET', KEYS[1], 'unsettled', 1) end
    redis.call('HINCRBY', KEYS[1], 'checks', ARGV[3])
    if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'checks', ARGV[3]) end
    redis.call('HSET', KEYS[1], 'hold', ARGV[1])
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  end
end
local values = redis.call('HMGET', KEYS[1], 'number', 'rid', 'nonce', 'checks', 'deliveries', 'unsettled',
                          'challenge', 'provider', 'address', 'caller', 'started')
values[12] = busy
return values
"""
SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'hold') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'hold', '')
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  if ARGV[3] == '1' then
    redis.call('HINCRBY', KEYS[1], 'checks', -1)
    if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'checks', -1) end
  end
end
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'unsettled', 1) end
return 1
"""
# Raise the deliveries to ARGV[1], never lower them (the same answer when redis-py sends it again), in the
# verification and its record.
COUNT_DELIVERY = """
local made = tonumber(redis.call('HGET', KEYS[1], 'deliveries'))
if made and made < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'deliveries', ARGV[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'deliveries', ARGV[1]) end
end
"""
MOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'rid', ARGV[1], 'provider', ARGV[2], 'deliveries', 1, 'unsettled', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'rid', ARGV[1], 'provider', ARGV[2], 'deliveries', 1)
  redis.call('EXPIRE', KEYS[2], ARGV[3] + ARGV[4])
end
return 1
"""
EXPIRE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
"""
# Delete, answering the same when sent again: redis-py resends a command whose answer timed out, and the
# plain DEL's second answer (0) would say that another request ended the verification. The first run leaves
# the operation's token beside the record (same hash tag) for a minute; a resend finds it and answers 1.
# KEYS[3], the record, is closed with the outcome (ARGV[2]) and kept ARGV[4] seconds (without the client's
# address, which only the end's log event names); without an outcome (a
# start that sent nothing) or with no records kept, it goes too. An approval learnt after a concurrent end
# is what happened: it replaces that end's outcome.
DELETE_ONCE = """
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', 60)
  if ARGV[2] == '' or ARGV[4] == '0' then
    redis.call('DEL', KEYS[3])
  elseif redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('HSET', KEYS[3], 'outcome', ARGV[2], 'ended', ARGV[3])
    redis.call('HDEL', KEYS[3], 'address')
    redis.call('EXPIRE', KEYS[3], ARGV[4])
  end
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then return 1 end
if ARGV[2] == 'approved' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'outcome', ARGV[2])
end
return 0
"""
# A verification whose time ran out (KEYS[1] gone by its TTL) with its record (KEYS[2]) still open: closed as
# expired, its fields answered, once. One still pending (moved to a later expiry) answers its seconds left.
EXPIRE = """
local left = redis.call('TTL', KEYS[1])
if left > 0 then return left end
if redis.call('HGET', KEYS[2], 'outcome') ~= '' then return false end
redis.call('HSET', KEYS[2], 'outcome', 'expired', 'ended', ARGV[1])
local values = redis.call('HMGET', KEYS[2], unpack(ARGV, 3))
redis.call('HDEL', KEYS[2], 'address')
if ARGV[2] == '0' then redis.call('DEL', KEYS[2]) else redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return values
"""
# Claim a number for a verification (KEYS[1], the number's index; ARGV: the verification, seconds, and the
# holder found stale, whose record is gone): answers the live holder instead, or nothing once claimed. The
# record is written before, so a holder without one is stale; a resend by redis-py finds its own claim.
CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
# One Redis only (its keys are in several slots of a Cluster, whose store sends the same commands in a
# pipeline and CLAIM after): a start's reservation in one command. It writes the verification (KEYS[2]) and its
# record (KEYS[3]) from the field-value pairs in ARGV[9..] (ARGV[8] of them the verification's), with their
# seconds (ARGV[2], ARGV[4]), puts it in the expiry set (KEYS[4], at ARGV[5]) and, when records are kept, in
# its number's (KEYS[5], at ARGV[6], kept ARGV[7] seconds); then claims the number's index (KEYS[1]): CLAIM,
# whose ARGV[1..3] are the verification, its seconds and '' (no stale holder). Sent again by redis-py, it
# writes the same and finds its own claim.
RESERVE = """
local n = tonumber(ARGV[8])
redis.call('HSET', KEYS[2], unpack(ARGV, 9, 8 + n))
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], unpack(ARGV, 9 + n))
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
if KEYS[5] then
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
""" + CLAIM
# One Redis only, as RESERVE: a start's answer recorded in one command. The expiry set (KEYS[3], the
# verification ARGV[5] at ARGV[6]) and the number's index (KEYS[4], when it still names the verification)
# follow the verification's new lifetime (harmless for one that is gone: an index naming it is stale to
# a reservation, the sweep skips an id without a record), then MOVE (KEYS[1], KEYS[2], ARGV[1..4]).
MOVE_ALL = """
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
if redis.call('GET', KEYS[4]) == ARGV[5] then redis.call('EXPIRE', KEYS[4], ARGV[3]) end
""" + MOVE
# Compare-and-delete: ending one verification cannot unindex a newer one of the same number.
DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
