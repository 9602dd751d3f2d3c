-- wrk script for the working-set scenarios: every request asks for
-- /obj/<size>/<id> with id uniform in 1..<keys>.
-- usage: wrk ... -s wrk-keys.lua http://127.0.0.1:PORT/ -- <size> <keys>
-- Requests are formatted once in init, so Lua costs the same for every server.

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   local size = args[1] or "1k"
   local keys = tonumber(args[2] or "10000")
   math.randomseed(7919 * (tid or 1))
   reqs = {}
   for id = 1, keys do
      reqs[id] = wrk.format("GET", "/obj/" .. size .. "/" .. id)
   end
   n = keys
end

function request()
   return reqs[math.random(n)]
end
