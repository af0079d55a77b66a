--- "Did you mean ...?": the closest of a list of names to a word that is
-- not one of them, within an edit distance of 2.
local _M = {}

local min, type, pairs, ipairs = math.min, type, pairs, ipairs
local lower = string.lower

--- Levenshtein distance (insertions, deletions, substitutions; a swap of
-- two neighbours counts as one), case-insensitive.
function _M.distance(a, b)
  a, b = lower(a), lower(b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev2, prev = nil, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    local ca = a:byte(i)
    for j = 1, lb do
      local cb = b:byte(j)
      local cost = ca == cb and 0 or 1
      local d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(i - 1) == cb then
        d = min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end

--- The candidate closest to word (2 edits at most), or nil. Ties go to
-- the first in the list.
function _M.closest(word, candidates, limit)
  if type(word) ~= "string" then return nil end
  limit = limit or 2
  local best, best_d
  for _, c in ipairs(candidates) do
    if c ~= word then
      local d = _M.distance(word, c)
      if d <= limit and (not best_d or d < best_d) then best, best_d = c, d end
    end
  end
  return best
end

--- Adds "did you mean 'x'?" to every field of an invalid error that the
-- provider does not declare, when a declared field is close. Returns err.
function _M.fields(entry, err)
  if type(err) ~= "table" or err.kind ~= "invalid" or type(err.fields) ~= "table" then return err end
  local names, declared = {}, {}
  for _, f in ipairs(entry.decl.fields or {}) do
    names[#names + 1] = f[1]
    declared[f[1]] = true
  end
  for name, msgs in pairs(err.fields) do
    if type(name) == "string" and not declared[name] and type(msgs) == "table" then
      local hint = _M.closest(name, names)
      if hint then
        for i, m in ipairs(msgs) do
          if type(m) == "string" and m:find("is not a field", 1, true) and not m:find("did you mean", 1, true) then
            msgs[i] = m .. ": did you mean '" .. hint .. "'?"
          end
        end
      end
    end
  end
  return err
end

return _M
