-- The sliding-window limit of src/limits/window.c, run inside Redis so that
-- every gateway instance shares it: one script call per check, atomic.
-- Time is the Redis server's (TIME), so instances need no synchronised
-- clocks.
--
-- KEYS[1]: the cells, a list of "INDEX:UNITS", oldest first
-- KEYS[2]: the units in the cells
-- take:   ARGV = "take", limit, window_us, cell_us, units
--         -> {0, cell, total} taken, or {1, retry_after_us, total} (-1: never)
-- adjust: ARGV = "adjust", cell, delta, window_us, cell_us -> total
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')

local function split(c)
  local sep = string.find(c, ':', 1, true)
  return tonumber(string.sub(c, 1, sep - 1)), tonumber(string.sub(c, sep + 1))
end

local function expire(window, cell)
  while true do
    local head = redis.call('LINDEX', KEYS[1], 0)
    if not head then break end
    local index, units = split(head)
    if (index + 1) * cell + window > now then break end
    total = total - units
    redis.call('LPOP', KEYS[1])
  end
end

local function keep(window)
  redis.call('SET', KEYS[2], total, 'PX', math.floor(window / 1000) + 1000)
  redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
end

if op == 'take' then
  local limit, window, cell, units = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  expire(window, cell)
  if units > limit then return {1, -1, total} end
  if total + units > limit then
    local need, freed = total + units - limit, 0
    for _, c in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
      local index, u = split(c)
      freed = freed + u
      if freed >= need then return {1, (index + 1) * cell + window - now, total} end
    end
    return {1, window, total}
  end
  local index = math.floor(now / cell)
  local tail = redis.call('LINDEX', KEYS[1], -1)
  if tail and split(tail) == index then
    local _, u = split(tail)
    redis.call('LSET', KEYS[1], -1, index .. ':' .. (u + units))
  else
    redis.call('RPUSH', KEYS[1], index .. ':' .. units)
  end
  total = total + units
  keep(window)
  return {0, index, total}
elseif op == 'adjust' then
  local index, delta, window, cell = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  expire(window, cell)
  local cells = redis.call('LRANGE', KEYS[1], 0, -1)
  for i = #cells, 1, -1 do
    local at, u = split(cells[i])
    if at < index then break end
    if at == index then
      if delta < 0 and -delta > u then delta = -u end
      redis.call('LSET', KEYS[1], i - 1, at .. ':' .. (u + delta))
      total = total + delta
      break
    end
  end
  keep(window)
  return total
end
return redis.error_reply('window.lua: unknown operation')
