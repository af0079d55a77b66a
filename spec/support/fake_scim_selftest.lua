-- The fake SCIM servers' part of the fakes' self-check
-- (spec/support/fake_selftest.lua calls it with its own helpers): each
-- dialect is sent good and bad requests with curl, and what it answers and
-- what it then holds are checked. Plain Lua, no C module.
return function(f, http, check, expect)
  local AUTH = "Authorization: Bearer test-token"
  local SCIM = "Content-Type: application/scim+json"
  local ID = "2819c223-7f76-453a-919d-413861904646"
  local PATCH_OP = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['

  local function patch_body(...) return PATCH_OP .. table.concat({ ... }, ",") .. "]}" end
  local function user_url(name, id) return f:base_url(name) .. "/Users/" .. (id or ID) end
  local function get(name, id) return http("GET", user_url(name, id), { headers = { AUTH } }) end
  local function patch(name, body, extra)
    local headers = { AUTH, SCIM }
    for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
    return http("PATCH", user_url(name), { headers = headers, data = body })
  end

  f:reset() -- every store starts again from its two seeded users

  ---------------------------------------------------------------- scim_rfc
  expect("scim_rfc ServiceProviderConfig", http("GET", f:base_url("scim_rfc") .. "/ServiceProviderConfig",
    { headers = { AUTH } }), 200, '"patch":{"supported":true}', '"etag":{"supported":true}')
  local g = expect("scim_rfc GET user", get("scim_rfc"), 200, '"userName":"bjensen@example.com"',
    '"version":"W/\\"1\\""')
  check("scim_rfc ETag and scim+json", g.headers.etag == 'W/"1"'
    and (g.headers["content-type"] or ""):find("application/scim+json", 1, true) == 1, g.headers.etag)
  local p = expect("scim_rfc PATCH replace", patch("scim_rfc",
    patch_body('{"op":"replace","path":"displayName","value":"Babs"}')), 200, '"displayName":"Babs"')
  check("scim_rfc PATCH bumps the version", p.headers.etag == 'W/"2"', p.headers.etag)
  expect("scim_rfc PATCH filter path", patch("scim_rfc",
    patch_body('{"op":"replace","path":"emails[type eq \\"work\\"].value","value":"babs@example.com"}')),
    200, '"value":"babs@example.com"', '"value":"babs@jensen.org"')
  expect("scim_rfc PATCH as application/json", http("PATCH", user_url("scim_rfc"), { headers = { AUTH,
    "Content-Type: application/json" }, data = patch_body('{"op":"remove","path":"name.middleName"}') }), 200)
  check("scim_rfc holds the changes", (function()
    local b = get("scim_rfc").body
    return b:find('"displayName":"Babs"', 1, true) and b:find('"value":"babs@example.com"', 1, true)
      and not b:find("middleName", 1, true)
  end)())
  expect("scim_rfc remove without path", patch("scim_rfc", patch_body('{"op":"remove"}')),
    400, '"scimType":"noTarget"')
  expect("scim_rfc stale If-Match", patch("scim_rfc", patch_body('{"op":"replace","path":"title","value":"x"}'),
    { 'If-Match: W/"1"' }), 412)
  expect("scim_rfc read-only id", patch("scim_rfc", patch_body('{"op":"replace","path":"id","value":"x"}')),
    400, '"scimType":"mutability"')
  expect("scim_rfc active must be boolean", patch("scim_rfc",
    patch_body('{"op":"replace","path":"active","value":"no"}')), 400, '"scimType":"invalidValue"')
  expect("scim_rfc list filter", http("GET", f:base_url("scim_rfc") .. "/Users?filter=userName%20eq%20%22JSMITH@example.com%22",
    { headers = { AUTH } }), 200, '"totalResults":1', '"userName":"jsmith@example.com"')
  expect("scim_rfc no token", http("GET", user_url("scim_rfc")), 401, "urn:ietf:params:scim:api:messages:2.0:Error")
  expect("scim_rfc unknown user", get("scim_rfc", "nobody"), 404, '"status":"404"')

  ---------------------------------------------------------------- scim_put
  expect("scim_put ServiceProviderConfig", http("GET", f:base_url("scim_put") .. "/ServiceProviderConfig",
    { headers = { AUTH } }), 200, '"patch":{"supported":false}')
  expect("scim_put PATCH", patch("scim_put", patch_body('{"op":"replace","path":"title","value":"x"}')), 501)
  local put = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com","active":true}'
  expect("scim_put PUT without If-Match", http("PUT", user_url("scim_put"), { headers = { AUTH, SCIM }, data = put }), 428)
  expect("scim_put PUT as application/json", http("PUT", user_url("scim_put"), { headers = { AUTH,
    "Content-Type: application/json", 'If-Match: W/"1"' }, data = put }), 415)
  f:behave("scim_put", { on_get = { id = ID, set = { title = "Changed elsewhere" } } })
  local g1 = expect("scim_put GET (then someone changes the user)", get("scim_put"), 200, '"title":"Tour Guide"')
  expect("scim_put PUT with the GET's ETag, stale", http("PUT", user_url("scim_put"), { headers = { AUTH, SCIM,
    "If-Match: " .. tostring(g1.headers.etag) }, data = put }), 412)
  local g2 = expect("scim_put GET again", get("scim_put"), 200, '"title":"Changed elsewhere"')
  check("scim_put on_get once, version moved", g1.headers.etag == 'W/"1"' and g2.headers.etag == 'W/"2"',
    tostring(g1.headers.etag) .. " " .. tostring(g2.headers.etag))
  expect("scim_put PUT with the current ETag", http("PUT", user_url("scim_put"), { headers = { AUTH, SCIM,
    "If-Match: " .. tostring(g2.headers.etag) }, data = put }), 200, '"version":"W/\\"3\\""')
  check("scim_put PUT replaced the user whole (title gone, groups kept)", (function()
    local b = get("scim_put").body
    return not b:find('"title"', 1, true) and not b:find('"name"', 1, true) and b:find('"groups"', 1, true)
  end)())

  ---------------------------------------------------------------- scim_github
  expect("scim_github filter path", patch("scim_github",
    patch_body('{"op":"replace","path":"emails[type eq \\"work\\"].value","value":"a@example.com"}')),
    400, '"scimType":"invalidPath"')
  expect("scim_github remove without path", patch("scim_github", patch_body('{"op":"remove"}')), 400, "noTarget")
  expect("scim_github remove active", patch("scim_github", patch_body('{"op":"remove","path":"active"}')), 400)
  expect("scim_github two emails", patch("scim_github", patch_body(
    '{"op":"replace","path":"emails","value":[{"value":"a@example.com"},{"value":"b@example.com"}]}')),
    400, "only one value")
  local gp = expect("scim_github PATCH answers 204", patch("scim_github",
    patch_body('{"op":"replace","path":"displayName","value":"Babs"}')), 204)
  check("scim_github 204 has no body", gp.body == "", gp.body)
  local gg = expect("scim_github holds the change", get("scim_github"), 200, '"displayName":"Babs"')
  check("scim_github sends no ETag, and application/json", gg.headers.etag == nil
    and (gg.headers["content-type"] or ""):find("application/json", 1, true) == 1)
  expect("scim_github list filter co", http("GET", f:base_url("scim_github") .. "/Users?filter=userName%20co%20%22b%22",
    { headers = { AUTH } }), 400, "invalidFilter")
  expect("scim_github active false", patch("scim_github",
    patch_body('{"op":"replace","path":"active","value":false}')), 204)
  expect("scim_github active false deleted the identity", get("scim_github"), 404)

  ---------------------------------------------------------------- scim_nodisco, scim_unique
  expect("scim_nodisco no ServiceProviderConfig", http("GET", f:base_url("scim_nodisco") .. "/ServiceProviderConfig",
    { headers = { AUTH } }), 404, "urn:ietf:params:scim:api:messages:2.0:Error")
  expect("scim_nodisco PATCH", patch("scim_nodisco", patch_body('{"op":"replace","path":"title","value":"Guide"}')),
    200, '"title":"Guide"')
  expect("scim_unique userName taken (any case)", patch("scim_unique",
    patch_body('{"op":"replace","path":"userName","value":"JSmith@example.com"}')), 409, '"scimType":"uniqueness"')
  expect("scim_unique email taken", patch("scim_unique",
    patch_body('{"op":"replace","path":"emails","value":[{"value":"jsmith@example.com"}]}')), 409, "uniqueness")
  expect("scim_unique unchanged after 409s", get("scim_unique"), 200, '"userName":"bjensen@example.com"',
    '"version":"W/\\"1\\""')
  local created = expect("scim_unique POST /Users", http("POST", f:base_url("scim_unique") .. "/Users",
    { headers = { AUTH, SCIM }, data = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new"}' }),
    201, '"userName":"new"')
  local new_id = created.body:match('"id":"([^"]+)"')
  expect("scim_unique created user", get("scim_unique", new_id), 200, '"userName":"new"')
  expect("scim_unique POST taken userName", http("POST", f:base_url("scim_unique") .. "/Users",
    { headers = { AUTH, SCIM }, data = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"NEW"}' }),
    409, "uniqueness")
  f:reset()
end
