-- The specs' nginx host (spec/support/nginx_host.lua) holds the port it
-- answers on: when the port it tried is taken by another server, even one
-- that answers the probe as it would, it starts on another instead of
-- handing out that server's address ("Address already in use" flakes).
local env = require "spec.support.env"
local nginx_host = require "spec.support.nginx_host"

describe("the specs' nginx host", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  it("starts on another port when the one it tried is another server's", function()
    -- the fakes answer the host's probe (/users/nope/1) with a 404 too
    assert.equal("404", env.sh("curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "
      .. env.fake.url .. "/users/nope/1"))
    local host = nginx_host.start { port = env.fake.port }
    local log = host:error_log()
    host:stop()
    assert.are_not.equal(env.fake.port, host.port)
    assert.is_nil(log:find("[emerg]", 1, true), log)
  end)
end)
