-- Mutual TLS through libcurl (client_cert, client_key): a fake that asks
-- for a client certificate and records the subject each request came with.
-- One engine keeps connections alive between requests: a connection made
-- with one certificate is never used for a request with another, or
-- without one (libcurl keys its connection cache and TLS sessions on it).
local users = require "users"
local curl = require "users.transport.curl"
local env = require "spec.support.env"

local function opts(cert, extra)
  local o = env.opts("generic", { base_url = env.fake:mtls_base_url("generic"), ca_file = env.fake.ca_file,
                                  client_cert = cert and cert.cert, client_key = cert and cert.key })
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- The subject each recorded request came with, and whether any connection
-- carried two.
local function seen()
  local list, by_conn, mixed = {}, {}, false
  for i, r in ipairs(env.fake:requests("generic")) do
    list[i] = r.client or "none"
    if by_conn[r.conn] and by_conn[r.conn] ~= list[i] then mixed = true end
    by_conn[r.conn] = list[i]
  end
  return list, mixed
end

describe("mutual TLS", function()
  local a, b

  setup(function()
    env.start()
    a, b = env.fake.client_certs.a, env.fake.client_certs.b
  end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("users.update sends the certificate asked for, each on a connection of its own identity", function()
    for _, cert in ipairs { a, b, false, a, b, false, a } do
      local user, err = users.update("generic", "u1", { role = "x" }, opts(cert or nil))
      assert.is_table(user, tostring(err))
    end
    local list, mixed = seen()
    assert.same({ "CN=client-a", "CN=client-b", "none", "CN=client-a", "CN=client-b", "none", "CN=client-a" }, list)
    assert.is_false(mixed)
  end)

  it("a bulk session of mixed certificates keeps them apart", function()
    local s = curl.session(6)
    local want = {}
    for i = 1, 30 do
      local cert = ({ a, b, false })[i % 3 + 1]
      local o = opts(cert or nil, { headers = { ["X-N"] = tostring(i) } })
      want[tostring(i)] = cert and ("CN=client-" .. (cert == a and "a" or "b")) or "none"
      s.start(assert(users.prepare("generic", "u" .. i, { role = "x" }, o)))
    end
    for _, r in ipairs(env.drain(s, 30)) do assert.is_table(r[2], tostring(r[3])) end
    s.close()
    local _, mixed = seen()
    assert.is_false(mixed)
    for _, r in ipairs(env.fake:requests("generic")) do
      assert.equal(want[r.headers["x-n"]], r.client or "none")
    end
  end)

  it("takes a key in the certificate's own file", function()
    local both = os.tmpname()
    env.write(both, env.read(a.cert) .. env.read(a.key))
    local user, err = users.update("generic", "u1", { role = "x" }, opts({ cert = both }))
    os.remove(both)
    assert.is_table(user, tostring(err))
    assert.same({ "CN=client-a" }, (seen()))
  end)

  it("a certificate that cannot be read is a TLS failure that sent nothing", function()
    local req = assert(users.prepare("generic", "u1", { role = "x" }, opts({ cert = "/nonexistent.crt" })))
    local res, msg, code, sent = curl.send(req)
    assert.is_nil(res)
    assert.equal("tls", code, msg)
    assert.is_false(sent)
    assert.same({}, env.fake:requests())
  end)

  it("the command sends --client-cert and --client-key, in update and in bulk runs", function()
    local cli = require "spec.support.cli"
    local q = cli.q
    local v = cli.vars("generic", { GENERIC_BASE_URL = env.fake:mtls_base_url("generic"), CURL_CA_BUNDLE = false,
                                    SSL_CERT_FILE = false })
    local tls = ("--ca-file %s --client-cert %s --client-key %s"):format(q(env.fake.ca_file), q(a.cert), q(a.key))
    local out, err, code = cli.run("update generic u1 role=x " .. tls, v)
    assert.equal(0, code, err)
    assert.matches("^{", out)
    out, err, code = cli.run(("update generic u2 role=x --ca-file %s"):format(q(env.fake.ca_file)), v)
    assert.equal(0, code, err)
    assert.matches("^{", out)
    local dir = cli.dir()
    env.write(dir .. "/people.csv", "id,role\nu3,x\nu4,y\n")
    out, err, code = cli.run(("bulk generic people.csv --no-journal --client-cert %s --client-key %s --ca-file %s")
      :format(q(b.cert), q(b.key), q(env.fake.ca_file)), v, dir)
    cli.rm(dir)
    assert.equal(0, code, err .. out)
    local by_id = {}
    for _, r in ipairs(env.fake:requests("generic")) do by_id[r.uri:match("[^/?]+$")] = r.client or "none" end
    assert.same({ u1 = "CN=client-a", u2 = "none", u3 = "CN=client-b", u4 = "CN=client-b" }, by_id)
  end)

  -- OpenSSL asks for a key's pass phrase on the terminal, or reads it from
  -- stdin, unless given one: the transport gives an empty one, so the
  -- child (without a terminal: setsid) keeps its stdin line and fails fast.
  it("an encrypted key is a TLS failure that sent nothing, never a prompt or a read of stdin", function()
    local enc, script = os.tmpname(), os.tmpname()
    env.sh(("openssl pkey -in %s -aes256 -passout pass:secret -out %s"):format(a.key, enc))
    assert.matches("ENCRYPTED", env.read(enc))
    local req = assert(users.prepare("generic", "u1", { role = "x" }, opts({ cert = a.cert, key = enc })))
    env.write(script, ([[
      package.path = "lua/?.lua;" .. package.path
      package.cpath = %q .. ";" .. package.cpath
      local curl = require "users.transport.curl"
      local req = { method = "PATCH", url = %q, headers = {}, body = "{}", ca_file = %q,
                    client_cert = %q, client_key = %q, timeout = 5 }
      local res, msg, code, sent = curl.send(req)
      print(tostring(res), code, tostring(sent), msg)
      print("stdin: " .. tostring(io.read("*l")))
    ]]):format(package.cpath:match("^[^;]+"), req.url, env.fake.ca_file, a.cert, enc))
    local out = env.sh(("printf 'kept line\n' | setsid %s %s"):format(env.lua_bin(), script))
    os.remove(enc)
    os.remove(script)
    assert.matches("^nil\ttls\tfalse\t[^\n]*private key", out)
    assert.matches("\nstdin: kept line\n", out)
    assert.same({}, env.fake:requests())
  end)

  it("a key needs a certificate, and both are strings", function()
    local req = assert(users.prepare("generic", "u1", { role = "x" }, opts()))
    req.client_key = a.key
    assert.has_error(function() curl.send(req) end, "'client_key' needs a 'client_cert'")
    assert.has_error(function() users.update("generic", "u1", { role = "x" }, opts(nil, { client_cert = 1 })) end,
      "bad argument #4 to 'update' (option 'client_cert' must be a string)")
  end)
end)
