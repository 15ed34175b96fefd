-- A real Tarantool server with the same spaces, functions and users as test/iproto/memory-backend.ts,
-- for differential tests: tarantool tarantool-reference.lua <port> <work_dir>
local port, work_dir = arg[1], arg[2]
box.cfg{listen = '127.0.0.1:' .. port, work_dir = work_dir, wal_mode = 'none', log_level = 1,
        memtx_memory = 64 * 1024 * 1024}
box.schema.user.grant('guest', 'read,write,execute', 'universe', nil, {if_not_exists = true})
box.schema.user.create('test', {password = 'secret', if_not_exists = true})
box.schema.user.grant('test', 'read,write,execute', 'universe', nil, {if_not_exists = true})
local s = box.schema.space.create('test', {id = 512, if_not_exists = true,
    format = {{name = 'id', type = 'unsigned'}, {name = 'value', type = 'any'}}})
s:create_index('pk', {if_not_exists = true})
function echo(...) return ... end
function sum(...) local t = 0; for _, v in ipairs({...}) do t = t + v end; return t end
function pair() return {1, 2} end
function tuples() return {{1}, {2}} end
function multi() return 1, {2, 3} end
function nothing() end
function boom() error('kaboom', 0) end
function whoami() return box.session.user() end
print('READY')
io.stdout:flush()
