-- net.box (from the `tarantool` binary) against our iproto server. Run:
--   tarantool netbox-client.lua <port> [user password]
-- Prints one JSON line: [{name, ok, value | error, code}] for every step, then exits 0.
local net_box = require('net.box')
local json = require('json')

local port, user, password = arg[1], arg[2], arg[3]
local steps = {}

local function plain(value)
    if type(value) == 'cdata' and value.totable ~= nil then return value:totable() end
    if type(value) == 'table' then
        local out = {}
        for k, v in pairs(value) do out[k] = plain(v) end
        return out
    end
    return value
end

local function step(name, fn)
    local packed = {pcall(fn)}
    local ok = table.remove(packed, 1)
    if ok then
        table.insert(steps, {name = name, ok = true, value = plain(packed)})
    else
        local e = packed[1]
        local code = type(e) == 'cdata' and e.code or nil
        table.insert(steps, {name = name, ok = false, error = tostring(e), code = code})
    end
end

local opts = {wait_connected = 5, connect_timeout = 5}
if user ~= nil then opts.user = user; opts.password = password end
local conn = net_box.connect('127.0.0.1:' .. port, opts)

step('connected', function() return conn:is_connected(), conn.error end)
step('ping', function() return conn:ping() end)
step('schema', function() return conn.space.test ~= nil, conn.space.test.id, conn.space.test.index.pk.id end)
step('insert', function() return conn.space.test:insert{1, 'one'} end)
step('insert_dup', function() return conn.space.test:insert{1, 'again'} end)
step('replace', function() return conn.space.test:replace{2, 'two'} end)
step('select_eq', function() return conn.space.test:select{1} end)
step('select_all', function() return conn.space.test:select{} end)
step('select_by_name', function() return conn.space.test.index.value:select{'two'} end)
step('get', function() return conn.space.test:get{2} end)
-- net.box sends INDEX_BASE = 1: field 2 is the second field.
step('update', function() return conn.space.test:update({1}, {{'=', 2, 'ONE'}}) end)
step('upsert', function() return conn.space.test:upsert({3, 'three'}, {{'=', 2, 'x'}}) end)
step('delete', function() return conn.space.test:delete{2} end)
step('call', function() return conn:call('sum', {1, 2, 3}) end)
step('call_multi', function() return conn:call('multi') end)
step('call_whoami', function() return conn:call('whoami') end)
step('call_missing', function() return conn:call('nope') end)
step('call_boom', function() return conn:call('boom') end)
step('eval', function() return conn:eval('return ...', {1, 'x'}) end)
step('final', function() return conn.space.test:select{} end)

conn:close()
print(json.encode(steps))
os.exit(0)
