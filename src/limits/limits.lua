-- The limits every gateway instance shares, run inside Redis: one script,
-- so each check-and-take is one atomic round trip. Time is the Redis
-- server's (TIME), so instances need no synchronised clocks.
-- (docs/limits.md describes the keys; src/limits/redis_limits.c the calls.)
--
-- Three kinds of limit:
--   a sliding window (the rules of src/limits/window.h): its cells at a key,
--     a list of "INDEX:UNITS" oldest first, and their sum at a second key;
--   a semaphore with leases: a sorted set of lease ids scored by expiry
--     (ms); an expired lease is removed before anything reads the set, so a
--     crashed instance's permits come back after its lease time;
--   a budget: the spend counter at a key (a float), charged by spend_add.
--
-- ARGV[1] picks the call:
--   admit:  'admit', n, then per op one of
--             'w', limit, window_us, cell_us, units   KEYS += cells, total
--             's', limit, lease, lease_ms             KEYS += leases
--             'b', budget                             KEYS += spend
--           -> {0, cell per op (0 but for windows)} all taken, or
--              {1, refused op (from 0), retry_after_us (-1: never)}, nothing taken
--   adjust: 'adjust', cell, delta, window_us, cell_us  KEYS = cells, total -> total
--   release:'release', lease                  KEYS = leases -> 1 released, 0 not held
--   settle: 'settle', n, then per op one of      (what a finished request gives back)
--             'r', lease                          KEYS += leases       a release
--             'a', cell, delta, window_us, cell_us  KEYS += cells, total  an adjust
--           -> n
--   renew:  'renew', lease_ms, lease...       KEYS = leases -> leases still held
--   spend_add:  'spend_add', amount, ttl_ms   KEYS = spend -> new total, nil if no counter
--   spend_seed: 'spend_seed', value, ttl_ms   KEYS = spend -> {1 set / 0 was there, value}
--   read:   'read', 'w', window_us, cell_us   KEYS = cells, total -> units used
--           'read', 's'                       KEYS = leases -> leases held
--           'read', 'b'                       KEYS = spend -> spend, nil if no counter
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)
-- a full semaphore's retry-after when its earliest lease is further away:
-- permits usually come back by release, long before a lease expires
local SEM_RETRY_US = 50000

local function split(c)
  local sep = string.find(c, ':', 1, true)
  return tonumber(string.sub(c, 1, sep - 1)), tonumber(string.sub(c, sep + 1))
end

local function window_keep(cells, total_key, total, window)
  local ttl = math.floor(window / 1000) + 1000
  redis.call('SET', total_key, string.format('%d', total), 'PX', ttl)
  redis.call('PEXPIRE', cells, ttl)
end

-- Drops the cells wholly out of the window (and their units from the
-- total, even if nothing is taken next); returns the units left in it.
local function window_expire(cells, total_key, window, cell)
  local total = tonumber(redis.call('GET', total_key) or '0')
  local dropped = false
  while true do
    local head = redis.call('LINDEX', cells, 0)
    if not head then break end
    local index, units = split(head)
    if (index + 1) * cell + window > now then break end
    total = total - units
    redis.call('LPOP', cells)
    dropped = true
  end
  if dropped then window_keep(cells, total_key, total, window) end
  return total
end

-- nil if `units` fit, else the µs until enough leave (-1: never).
local function window_wait(cells, total, limit, window, cell, units)
  if units > limit then return -1 end
  if total + units <= limit then return nil end
  local need, freed = total + units - limit, 0
  for _, c in ipairs(redis.call('LRANGE', cells, 0, -1)) do
    local index, u = split(c)
    freed = freed + u
    if freed >= need then return (index + 1) * cell + window - now end
  end
  return window
end

local function window_add(op)
  local index = math.floor(now / op.cell)
  local tail = redis.call('LINDEX', op.key, -1)
  local at, u = nil, 0
  if tail then at, u = split(tail) end
  if at == index then
    redis.call('LSET', op.key, -1, string.format('%d:%d', index, u + op.units))
  else
    redis.call('RPUSH', op.key, string.format('%d:%d', index, op.units))
  end
  window_keep(op.key, op.total_key, op.total + op.units, op.window)
  return index
end

-- Corrects the units taken in cell `index` by delta (never below zero);
-- returns the units in the window.
local function window_adjust(cells_key, total_key, index, delta, window, cell)
  local total = window_expire(cells_key, total_key, window, cell)
  local cells = redis.call('LRANGE', cells_key, 0, -1)
  for i = #cells, 1, -1 do
    local at, u = split(cells[i])
    if at < index then break end
    if at == index then
      if delta < 0 and -delta > u then delta = -u end
      redis.call('LSET', cells_key, i - 1, string.format('%d:%d', at, u + delta))
      total = total + delta
      break
    end
  end
  window_keep(cells_key, total_key, total, window)
  return total
end

local function leases_expire(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
end

-- nil if the semaphore has a permit for `lease` (it may hold one already),
-- else the µs to wait (-1: never, a limit of 0).
local function semaphore_wait(key, limit, lease)
  leases_expire(key)
  if redis.call('ZSCORE', key, lease) or redis.call('ZCARD', key) < limit then return nil end
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if not first[2] then return -1 end
  local wait = (tonumber(first[2]) - now_ms) * 1000
  if wait > SEM_RETRY_US then wait = SEM_RETRY_US end
  return wait
end

local function lease_keep(key, lease_ms)
  redis.call('PEXPIRE', key, lease_ms + 1000)
end

local call = ARGV[1]
if call == 'admit' then
  local ops, a, k = {}, 3, 1
  for i = 1, tonumber(ARGV[2]) do
    local op, wait = {kind = ARGV[a], key = KEYS[k]}, nil
    if op.kind == 'w' then
      op.limit, op.window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
      op.cell, op.units = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
      op.total_key = KEYS[k + 1]
      op.total = window_expire(op.key, op.total_key, op.window, op.cell)
      wait = window_wait(op.key, op.total, op.limit, op.window, op.cell, op.units)
      a, k = a + 5, k + 2
    elseif op.kind == 's' then
      op.lease, op.lease_ms = ARGV[a + 2], tonumber(ARGV[a + 3])
      wait = semaphore_wait(op.key, tonumber(ARGV[a + 1]), op.lease)
      a, k = a + 4, k + 1
    elseif op.kind == 'b' then
      if tonumber(redis.call('GET', op.key) or '0') >= tonumber(ARGV[a + 1]) then wait = -1 end
      a, k = a + 2, k + 1
    else
      return redis.error_reply('limits.lua: unknown op kind')
    end
    if wait then return {1, i - 1, wait} end
    ops[i] = op
  end
  local reply = {0}
  for i, op in ipairs(ops) do
    local cell = 0
    if op.kind == 'w' then
      cell = window_add(op)
    elseif op.kind == 's' then
      redis.call('ZADD', op.key, now_ms + op.lease_ms, op.lease)
      lease_keep(op.key, op.lease_ms)
    end
    reply[i + 1] = cell
  end
  return reply
elseif call == 'adjust' then
  return window_adjust(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]),
                       tonumber(ARGV[4]), tonumber(ARGV[5]))
elseif call == 'settle' then
  local a, k = 3, 1
  for i = 1, tonumber(ARGV[2]) do
    if ARGV[a] == 'r' then
      redis.call('ZREM', KEYS[k], ARGV[a + 1])
      a, k = a + 2, k + 1
    else
      window_adjust(KEYS[k], KEYS[k + 1], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
                    tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]))
      a, k = a + 5, k + 2
    end
  end
  return tonumber(ARGV[2])
elseif call == 'release' then
  return redis.call('ZREM', KEYS[1], ARGV[2])
elseif call == 'renew' then
  local lease_ms = tonumber(ARGV[2])
  leases_expire(KEYS[1])
  local ids = {unpack(ARGV, 3)}
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
  local zadd, held = {'ZADD', KEYS[1], 'XX'}, 0
  for i, id in ipairs(ids) do
    if scores[i] then
      zadd[#zadd + 1] = now_ms + lease_ms
      zadd[#zadd + 1] = id
      held = held + 1
    end
  end
  if held > 0 then
    redis.call(unpack(zadd))
    lease_keep(KEYS[1], lease_ms)
  end
  return held
elseif call == 'spend_add' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return total
elseif call == 'spend_seed' then
  local set = redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3])
  return {set and 1 or 0, redis.call('GET', KEYS[1])}
elseif call == 'read' then
  if ARGV[2] == 'w' then
    return window_expire(KEYS[1], KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
  elseif ARGV[2] == 's' then
    leases_expire(KEYS[1])
    return redis.call('ZCARD', KEYS[1])
  end
  return redis.call('GET', KEYS[1])
end
return redis.error_reply('limits.lua: unknown call')
