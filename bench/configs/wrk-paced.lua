-- wrk script for the paced scenarios: every connection waits 1 ms after
-- each response before it sends its next request, so the offered load is
-- about connections / (1 ms + latency) and no server saturates the cores
-- it shares with wrk. Latency then measures the server, not the queue
-- wrk's own threads form when a fast server leaves them no CPU.
-- usage: wrk ... -s wrk-paced.lua http://127.0.0.1:PORT/ -- <path>
--        wrk ... -s wrk-paced.lua http://127.0.0.1:PORT/ -- <size> <keys>
-- (the second form reads /obj/<size>/<id>, id uniform in 1..<keys>)

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   math.randomseed(7919 * (tid or 1))
   reqs = {}
   if #args >= 2 then
      for id = 1, tonumber(args[2]) do
         reqs[id] = wrk.format("GET", "/obj/" .. args[1] .. "/" .. id)
      end
   else
      reqs[1] = wrk.format("GET", args[1])
   end
   n = #reqs
end

function request()
   return reqs[math.random(n)]
end

function delay()
   return 1
end
