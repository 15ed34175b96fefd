-- The net.box side of `npm run bench:peers`: Tarantool's own connector driving a server with
-- `fibers` fibers on one connection, `ops` requests in total of kind replace | select.
--   tarantool bench/netbox-client.lua <host:port> <replace|select> <ops> <fibers> <first_id>
-- Prints one JSON line {"ops", "seconds", "errors"}.
local net_box = require('net.box')
local fiber = require('fiber')
local clock = require('clock')
local json = require('json')

local address, kind, ops, fibers, first = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5] or '1')
local conn = net_box.connect(address, {wait_connected = 10})
assert(conn:is_connected(), 'cannot connect: ' .. tostring(conn.error))
local space = conn.space.test
assert(space ~= nil, 'no space test')
-- Warm up: the schema is loaded, one request of the kind goes through.
space:replace{first, 'x'}

local per_fiber = math.floor(ops / fibers)
local errors = 0
local done = fiber.channel(fibers)
local started = clock.monotonic()
for f = 0, fibers - 1 do
    fiber.create(function()
        local base = first + f * per_fiber
        for i = 0, per_fiber - 1 do
            local ok = pcall(function()
                if kind == 'replace' then space:replace{base + i, 'x'}
                else space:select{base + i} end
            end)
            if not ok then errors = errors + 1 end
        end
        done:put(true)
    end)
end
for _ = 1, fibers do done:get() end
local seconds = clock.monotonic() - started
conn:close()
print(json.encode({ops = per_fiber * fibers, seconds = seconds, errors = errors}))
os.exit(0)
