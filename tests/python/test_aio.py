"""The asyncio form: calls, per-handle event iteration, credit."""

import asyncio
import contextlib
import unittest

from daemon import DaemonTestCase

import reactord
import reactord.aio


class AioTests(DaemonTestCase):

    def run_async(self, coro, limit=60):
        """Run ``coro`` on a fresh loop; ``limit`` only guards a hang."""
        return asyncio.run(asyncio.wait_for(coro, limit))

    def test_call_and_errors(self):
        async def main():
            async with reactord.aio.connect(self.endpoint,
                                            name="aio") as r:
                self.assertEqual(r.info["server"], "reactord")
                self.assertEqual(await r.call("reactor.ping"), {})
                info = await r.call("reactor.info")
                self.assertGreaterEqual(info["sessions"], 1)
                with self.assertRaises(reactord.ReactordError) as cm:
                    await r.call("no.such.method")
                self.assertEqual(cm.exception.code, "ENOSYS")
                with self.assertRaises(reactord.ReactordError) as cm:
                    await r.call("timer.reset", handle=424242, after=1)
                self.assertEqual(cm.exception.code, "ENOENT")
        self.run_async(main())

    def test_concurrent_calls(self):
        async def main():
            r = await reactord.aio.connect(self.endpoint)
            try:
                results = await asyncio.gather(
                    *(r.call("timer.start", after=60) for _ in range(50)))
                handles = [res["handle"] for res in results]
                self.assertEqual(len(set(handles)), 50)
                await asyncio.gather(*(r.call("timer.cancel", handle=h)
                                       for h in handles))
                left = await r.call("reactor.resources")
                self.assertEqual(left["resources"], [])
            finally:
                await r.close()
        self.run_async(main())

    def test_timer_events(self):
        async def main():
            async with reactord.aio.connect(self.endpoint) as r:
                fired = await r.sleep(0.01)
                self.assertEqual(fired.name, "timer.fired")
                self.assertEqual(fired["ticks"], 1)
                counts = []
                async with contextlib.aclosing(r.ticks(0.005, now=True)) \
                        as loop:
                    async for ticks in loop:
                        counts.append(ticks)
                        if len(counts) == 5:
                            break
                self.assertEqual(len(counts), 5)
                self.assertTrue(all(t >= 1 for t in counts))
                left = await r.call("reactor.resources")
                self.assertEqual(left["resources"], [])
        self.run_async(main())

    def test_one_shot_iteration_ends(self):
        async def main():
            async with reactord.aio.connect(self.endpoint) as r:
                handle = (await r.call("timer.start", after=0))["handle"]
                events = [e.name async for e in r.events(handle)]
                self.assertEqual(events, ["timer.fired"])
        self.run_async(main())

    def test_credit_is_returned(self):
        # Far more event bytes than the window: only acks keep them coming.
        async def main():
            async with reactord.aio.connect(self.endpoint,
                                            window=4096) as r:
                n = 0
                async with contextlib.aclosing(r.ticks(0.0005)) as loop:
                    async for _ in loop:
                        n += 1
                        if n == 1000:
                            break
                self.assertEqual(n, 1000)
        self.run_async(main())

    def test_stream_echo(self):
        async def main():
            async with reactord.aio.connect(self.endpoint) as r:
                listener = await r.call("tcp.listen", host="127.0.0.1",
                                        port=0)
                client = (await r.call("tcp.connect", host="127.0.0.1",
                                       port=listener["port"]))["handle"]
                accepted = await r.next_event(listener["handle"])
                self.assertEqual(accepted.name, "listener.accepted")
                server = accepted["stream"]

                async def echo():
                    async for event in r.events(server):
                        if event.name == "stream.data":
                            await r.call("stream.write", handle=server,
                                         data=event["data"])
                        elif event.name == "stream.eof":
                            await r.call("stream.close", handle=server)
                echo_task = asyncio.ensure_future(echo())
                await r.call("stream.write", handle=client,
                             data=b"ping " * 1000)
                await r.call("stream.shutdown", handle=client)
                got, names = bytearray(), []
                async for event in r.events(client):
                    names.append(event.name)
                    if event.name == "stream.data":
                        got += event["data"]
                await echo_task
                self.assertEqual(bytes(got), b"ping " * 1000)
                self.assertEqual(names[0], "stream.connected")
                self.assertEqual(names[-1], "stream.closed")
                await r.call("handle.close", handle=listener["handle"])
        self.run_async(main())

    def test_process(self):
        async def main():
            async with reactord.aio.connect(self.endpoint) as r:
                spawned = await r.call("process.spawn",
                                       argv=["/bin/sh", "-c",
                                             "echo hi; exit 4"])
                out, code = b"", None
                async for event in r.events(spawned["handle"]):
                    if event.name == "process.output":
                        out += event["data"]
                    elif event.name == "process.exited":
                        code = event["code"]
                self.assertEqual(out, b"hi\n")
                self.assertEqual(code, 4)
        self.run_async(main())


if __name__ == "__main__":
    unittest.main()
