-- The API reference (issue 19): LDoc, as `make doc` runs it, moves the
-- rest of a table's last field, or of a function's last return, into the
-- description when it runs over several lines; every field and return of
-- lua/users.lua must read whole where it belongs. And the report and run
-- options the command relies on are documented.
local env = require "spec.support.env"

local has_ldoc = os.execute("test -x /usr/bin/ldoc && command -v lua5.1 >/dev/null")
has_ldoc = has_ldoc == true or has_ldoc == 0

-- Text as a reader sees it: no markup, one space between words.
local function plain(s)
  s = s:gsub("<[^>]+>", " "):gsub("&quot;", '"'):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&#39;", "'"):gsub("&amp;", "&")
  return (s:gsub("[`_*]", ""):gsub("%s+", " "):gsub(" ([;,.:)%]}])", "%1"):gsub("([(%[{]) ", "%1"))
end

-- Each tag of `file` that runs over several lines: its text whole, added
-- to `list`.
local function multi_line_tags_of(file, list)
  local current
  for line in io.lines(file) do
    local tag, text = line:match("^%-%- @(%w+)%S*%s+(.*)$")
    local more = line:match("^%-%-   +(%S.*)$")
    if tag then
      if tag == "field" then text = text:match("^%S+%s+(.*)$") or "" end
      current = (tag == "field" or tag == "return") and { text } or nil
    elseif more and current then
      if #current == 1 then list[#list + 1] = current end
      current[#current + 1] = more
    else
      current = nil
    end
  end
  return list
end

-- Those of lua/users.lua and lua/users/shapes.lua (the tables it takes and gives).
local function multi_line_tags()
  return multi_line_tags_of("lua/users/shapes.lua", multi_line_tags_of("lua/users.lua", {}))
end

describe("the API reference", function()
  local it_ldoc = has_ldoc and it or pending

  it_ldoc("reads every field and return whole, where it belongs", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out = env.sh("lua5.1 /usr/bin/ldoc --fatalwarnings -d " .. dir .. " . 2>&1; echo exit:$?")
    assert.matches("exit:0%s*$", out)
    local html = plain(env.read(dir .. "/modules/users.html"))
    os.execute("rm -rf " .. dir)
    local tags = multi_line_tags()
    assert.is_true(#tags > 20)
    for _, t in ipairs(tags) do
      local text = plain(table.concat(t, " "))
      assert.truthy(html:find(text, 1, true), "not whole in doc/: " .. text)
    end
    for _, name in ipairs { "notattempted", "stopped", "configerror", "maxauthfailures", "shouldstop", "deadline" } do
      assert.truthy(html:find(" " .. name .. " ", 1, true), name .. " is not documented")
    end
  end)
end)
