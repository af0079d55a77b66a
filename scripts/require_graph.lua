-- The Lua require graph of the module, read from the `require` lines of
-- lua/ (a call of require with a literal name, outside comments):
--   lua5.4 scripts/require_graph.lua [DIR] [--dot]
-- prints each module with the modules it requires, in layers (a module's
-- layer is one above the highest of what it requires; users.core, the C
-- core, is layer 0), then any require loop. --dot prints Graphviz instead.
local dir, dot = "lua", false
for _, a in ipairs(arg) do
  if a == "--dot" then dot = true else dir = a end
end

local function files(root)
  local list = {}
  local p = io.popen("find " .. ("%q"):format(root) .. " -name '*.lua' | sort")
  for path in p:lines() do list[#list + 1] = path end
  p:close()
  return list
end

local function module_of(path)
  return (path:sub(#dir + 2):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

local requires, modules = {}, {}
for _, path in ipairs(files(dir)) do
  local name = module_of(path)
  modules[#modules + 1] = name
  local deps, seen = {}, {}
  local in_long_comment = false
  for line in io.lines(path) do
    if in_long_comment then
      if line:find("]]", 1, true) then in_long_comment = false end
    elseif line:match("^%s*%-%-%[%[") then
      in_long_comment = not line:find("]]", 1, true)
    else
      local code = line:gsub("%-%-.*$", "")
      for dep in code:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
        if not seen[dep] then seen[dep] = true; deps[#deps + 1] = dep end
      end
    end
  end
  table.sort(deps)
  requires[name] = deps
end
table.sort(modules)

-- Layers, and the loops met on the way (a module in a loop gets no layer).
local layer, state, loops = { ["users.core"] = 0 }, {}, {}
local function depth(m, stack)
  if layer[m] then return layer[m] end
  if state[m] == "open" then
    local cycle, on = {}, false
    for _, s in ipairs(stack) do
      if s == m then on = true end
      if on then cycle[#cycle + 1] = s end
    end
    cycle[#cycle + 1] = m
    loops[#loops + 1] = table.concat(cycle, " -> ")
    return nil
  end
  state[m] = "open"
  stack[#stack + 1] = m
  local d = 0
  for _, dep in ipairs(requires[m] or {}) do
    if dep:match("^users") then
      local l = depth(dep, stack)
      if l and l + 1 > d then d = l + 1 end
    end
  end
  stack[#stack] = nil
  state[m] = "done"
  layer[m] = d
  return d
end
for _, m in ipairs(modules) do depth(m, {}) end

if dot then
  print("digraph requires {\n  rankdir=BT; node [shape=box, fontname=monospace];")
  for _, m in ipairs(modules) do
    for _, dep in ipairs(requires[m]) do
      if dep:match("^users") then print(('  "%s" -> "%s";'):format(m, dep)) end
    end
  end
  print("}")
  return
end

local by_layer, top = {}, 0
for _, m in ipairs(modules) do
  local l = layer[m] or -1
  by_layer[l] = by_layer[l] or {}
  table.insert(by_layer[l], m)
  if l > top then top = l end
end
local edges = 0
for l = top, 1, -1 do
  for _, m in ipairs(by_layer[l] or {}) do
    local deps = {}
    for _, dep in ipairs(requires[m]) do
      if dep:match("^users") then deps[#deps + 1] = dep:gsub("^users%.", ""); edges = edges + 1 end
    end
    print(("%2d  %-26s -> %s"):format(l, m, table.concat(deps, " ")))
  end
end
local leaves = {}
for _, m in ipairs(by_layer[0] or {}) do leaves[#leaves + 1] = m end
print((" 0  %s (users.core: the C core)"):format(table.concat(leaves, " ")))
print(("%d modules, %d edges, %d layers; require loops: %s"):format(#modules, edges, top + 1,
  #loops > 0 and table.concat(loops, "; ") or "none"))
