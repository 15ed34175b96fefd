-- net.box (Debian's tarantool binary) against a running picodata-ts daemon. Run:
--   tarantool netbox-daemon.lua <host:port> [user password]
-- Prints one JSON line: [{name, ok, value | error}] for every step, then exits 0.
local net_box = require('net.box')
local json = require('json')

local address, user, password = arg[1], arg[2], arg[3]
local steps = {}

local function plain(value)
    if value == nil then return value end -- nil, or box.NULL (a NULL cdata)
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
        table.insert(steps, {name = name, ok = false, error = tostring(packed[1])})
    end
end

local opts = {wait_connected = 5, connect_timeout = 5}
if user ~= nil then opts.user = user; opts.password = password end
local conn = net_box.connect(address, opts)

step('connected', function() return conn:is_connected(), conn.error end)
step('ping', function() return conn:ping() end)
step('schema', function() return conn.space.test ~= nil, conn.space.test.index.pk ~= nil end)
step('insert', function() return conn.space.test:insert{101, 'net.box'} end)
step('insert_dup', function() return conn.space.test:insert{101, 'again'} end)
step('replace', function() return conn.space.test:replace{102, 'two'} end)
step('select', function() return conn.space.test:select{101} end)
step('select_range', function() return conn.space.test:select({101}, {iterator = 'GE', limit = 2}) end)
step('update', function() return conn.space.test:update({102}, {{'=', 2, 'TWO'}}) end)
step('update_by_name', function() return conn.space.test:update({102}, {{'=', 'value', 'Two'}}) end)
step('upsert', function() return conn.space.test:upsert({102, 'x'}, {{'=', 'value', 'deux'}}) end)
step('select_upserted', function() return conn.space.test:get{102} end)
step('delete', function() return conn.space.test:delete{101} end)
step('raft_status', function() return conn:call('pico.raft_status') end)
step('instance_info', function() return conn:call('pico.instance_info', {'nope'}) end)
step('sum', function() return conn:call('sum', {1, 2, 3}) end)
step('eval', function() return conn:eval('return pico.whoami()') end)
step('eval_literal', function() return conn:eval("return pico.instance_info('i1')") end)
step('eval_box', function() return conn:eval('return box.space.test:get(...)', {102}) end)
step('eval_refused', function() return conn:eval('return box.schema') end)
step('eval_miss', function() return conn:eval('return box.space.test:get{123456789}') end)
step('eval_box_info', function() return conn:eval('return box.info.ro, box.cfg.listen') end)
step('call_box_method', function() return conn:call('box.space.test:select', {{102}}) end)
-- net.box counts by CALL of 'box.space.test.index.pk:count'.
step('index_count', function() return conn.space.test.index.pk:count({102}) end)

conn:close()
print(json.encode(steps))
os.exit(0)
