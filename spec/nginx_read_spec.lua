-- How the nginx transport reads an answer (users/transport/nginx_read.lua),
-- fed by a socket that hands out a byte stream in pieces as cosockets do:
-- the 256 KB cap on a head, the count of bytes it reads before it stops,
-- chunked bodies, and repeated headers joined in linear time, shown by the
-- memory the join allocates, never by a clock. The same reader runs inside
-- a real nginx in spec/nginx_transport_spec.lua.
local read = require "users.transport.nginx_read"

-- A socket over `stream`, handing out at most `piece` bytes a call; then
-- "closed". `taken` counts the bytes handed out.
local function socket(stream, piece)
  local s = { pos = 1, taken = 0 }
  function s:receiveany(max)
    if self.pos > #stream then return nil, "closed" end
    local n = math.min(max, piece or 65536)
    local data = stream:sub(self.pos, self.pos + n - 1)
    self.pos = self.pos + #data
    self.taken = self.taken + #data
    return data
  end
  return s
end

local function answer(stream, piece, method, max_body)
  return read.response(socket(stream, piece), method or "PATCH", max_body or 8 * 1024 * 1024)
end

describe("the nginx transport's reader", function()
  it("reads a whole answer, in one piece or byte by byte, and keeps the connection", function()
    local stream = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"u1"}'
    for _, piece in ipairs { 65536, 7, 1 } do
      local res, keep = answer(stream, piece)
      assert.same({ status = 200, protocol = "HTTP/1.1", body = '{"id":"u1"}',
                    headers = { ["content-type"] = "application/json", ["content-length"] = "11" } }, res)
      assert.is_true(keep)
    end
  end)

  it("reads bare-LF heads, skips interim answers, and trims header values", function()
    local res = answer("HTTP/1.1 103 Early Hints\nLink: </a>\n\nHTTP/1.1 200 OK\nX-A:  v  \nContent-Length: 2\n\n{}", 5)
    assert.equal(200, res.status)
    assert.equal("v", res.headers["x-a"])
    assert.is_nil(res.headers.link)
  end)

  it("an unasked-for 101 is a reset: no final answer will come", function()
    local res, msg, code = answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n{}")
    assert.is_nil(res)
    assert.equal("reset", code)
    assert.matches("HTTP 101", msg)
  end)

  it("an answer that is no HTTP, or a bad Content-Length, is a bad_response", function()
    for _, stream in ipairs { "SSH-2.0-OpenSSH_9.2\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n{}" } do
      local res, _, code = answer(stream)
      assert.is_nil(res)
      assert.equal("bad_response", code)
    end
  end)

  it("reads chunked bodies, with extensions and trailers, in any pieces", function()
    local stream = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "4;x=1\r\n{\"id\r\n7\r\n\":\"u1\"}\r\n0\r\nX-Trailer: t\r\n\r\n"
    for _, piece in ipairs { 65536, 3, 1 } do
      local res, keep = answer(stream, piece)
      assert.equal('{"id":"u1"}', res.body)
      assert.is_true(keep)
    end
  end)

  it("a chunk-size line that is not hex, or a chunk longer than its size, is a bad_response", function()
    for _, chunks in ipairs { "zz\r\n{}\r\n0\r\n\r\n", "1g\r\n{}\r\n0\r\n\r\n", "1\r\n{}\r\n0\r\n\r\n",
                              ("f"):rep(5000) } do
      local res, msg, code = answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. chunks)
      assert.is_nil(res)
      assert.equal("bad_response", code, msg)
    end
  end)

  it("a body over max_body is too_large, whatever its framing", function()
    for _, stream in ipairs {
      "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" .. ("x"):rep(2000),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" .. ("x"):rep(1024) .. "\r\n400\r\n",
      "HTTP/1.1 200 OK\r\n\r\n" .. ("x"):rep(3000),
    } do
      local res, msg, code = answer(stream, 512, "PATCH", 1500)
      assert.is_nil(res)
      assert.equal("too_large", code)
      assert.equal("response body larger than 1500 bytes", msg)
    end
  end)

  -- The cap is the libcurl transport's (src/transfer.c): a head of 262144
  -- bytes, its blank line included, is read; one byte more is refused,
  -- whether its end comes in the read that crosses the cap or later.
  it("takes a head of exactly 256 KB and refuses one byte more, whatever the reads' sizes", function()
    local function head_of(n)
      local first = "HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 2\r\n"
      local pad = n - #first - #"X-Pad: \r\n" - 2
      return first .. "X-Pad: " .. ("p"):rep(pad) .. "\r\n\r\n"
    end
    for _, piece in ipairs { 1000, 4096, 65536 } do
      local exact, over = head_of(read.MAX_HEAD), head_of(read.MAX_HEAD + 1)
      assert.equal(read.MAX_HEAD, #exact)
      local res = answer(exact .. "{}", piece)
      assert.equal(307, res and res.status, "a " .. #exact .. "-byte head in pieces of " .. piece)
      local none, msg, code = answer(over .. "{}", piece)
      assert.is_nil(none, "a " .. #over .. "-byte head in pieces of " .. piece)
      assert.same({ "too_large", "response headers larger than 262144 bytes" }, { code, msg })
    end
    -- the review's case: 300 lines of 1 KB, a 307 838-byte head
    local line = "X-Big: " .. ("b"):rep(1017) .. "\r\n"
    for _, piece in ipairs { 1000, 65536 } do
      local _, _, code = answer("HTTP/1.1 200 OK\r\n" .. line:rep(300) .. "Content-Length: 2\r\n\r\n{}", piece)
      assert.equal("too_large", code)
    end
  end)

  it("stops reading a head at 256 KB: 200 000 header lines cost what 256 KB does", function()
    local s = socket("HTTP/1.1 200 OK\r\n" .. ("A: 1\r\n"):rep(200000) .. "Content-Length: 2\r\n\r\n{}", 1000)
    local res, msg, code = read.response(s, "PATCH", 1e6)
    assert.is_nil(res)
    assert.equal("too_large", code)
    assert.equal("response headers larger than 262144 bytes", msg)
    assert.is_true(s.taken <= read.MAX_HEAD + 1000, s.taken .. " bytes read")
  end)

  it("does not keep a connection that said close, or sent more than its answer", function()
    assert.is_false(select(2, answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")))
    assert.is_false(select(2, answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra")))
    assert.is_false(select(2, answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")))
    local res, keep = answer("HTTP/1.1 204 No Content\r\n\r\n")
    assert.equal("", res.body)
    assert.is_true(keep)
  end)

  -- Memory allocated while the collector is stopped counts every byte the
  -- join made: linear work allocates about 4 times more for 4 times the
  -- lines; concatenating as they come would allocate about 16 times more.
  local function allocated(n)
    local head = "HTTP/1.1 200 OK\r\n" .. ("A: 1\r\n"):rep(n) .. "\r\n"
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    local h = read.headers(head)
    local kb = collectgarbage("count") - before
    collectgarbage("restart")
    assert.equal(n * 3 - 2, #h.a)
    return kb
  end

  it("joins 20 000 repeats of a header in linear time (memory the join allocates)", function()
    local small, large = allocated(5000), allocated(20000)
    assert.is_true(large < 6 * small, ("5 000 repeats: %.0f KB, 20 000: %.0f KB"):format(small, large))
  end)
end)
