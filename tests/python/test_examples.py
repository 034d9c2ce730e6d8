"""Run each example program against the test daemon and check its output."""

import os
import subprocess
import unittest

from daemon import EXAMPLES_DIR, PYTHON, DaemonTestCase, stop_process


class ExampleTests(DaemonTestCase):

    def run_example(self, name, *args, timeout=60):
        """Run an example to completion; return (stdout, stderr)."""
        result = subprocess.run(
            [PYTHON, os.path.join(EXAMPLES_DIR, name)] + list(args),
            env=self.daemon.env(), capture_output=True, text=True,
            timeout=timeout)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout, result.stderr

    def test_hello(self):
        out, _ = self.run_example("hello.py")
        self.assertEqual(out.splitlines(), [
            "Starting the reactor.",
            "Hello from the reactor loop!",
            "Lately I feel like I'm stuck in a rut."])

    def test_stack(self):
        out, err = self.run_example("stack.py")
        self.assertEqual(out.splitlines(), ["The python stack:"])
        self.assertIn("reactor.run()", err)
        self.assertIn("traceback.print_stack()", err)
        self.assertLess(err.index("reactor.run()"),
                        err.index("traceback.print_stack()"))

    def test_countdown(self):
        out, _ = self.run_example("countdown.py", "0.01")
        self.assertEqual(out.splitlines(), [
            "Start!", "5 ...", "4 ...", "3 ...", "2 ...", "1 ...", "Stop!"])

    def test_failing(self):
        out, err = self.run_example("failing.py")
        self.assertEqual(out.splitlines(), [
            "Starting the reactor.", "But I get up again."])
        self.assertIn("Traceback (most recent call last)", err)
        self.assertIn("Exception: I fall down.", err)

    def test_looping(self):
        out, _ = self.run_example("looping.py", "0.02")
        lines = out.splitlines()
        self.assertEqual(lines[0], "Start!")
        self.assertEqual(lines[-1], "All counters finished. Stop!")
        for name in ("fast", "medium", "slow"):
            self.assertIn("%s: 0 ..." % name, lines)
            self.assertIn("%s finished." % name, lines)
            counts = [int(line.split(": ")[1].split()[0]) for line in lines
                      if line.startswith(name + ": ")]
            self.assertEqual(counts, sorted(counts, reverse=True))

    def start_server(self, poem_path):
        server = subprocess.Popen(
            [PYTHON, os.path.join(EXAMPLES_DIR, "poetry_server.py"),
             "--num-bytes", "50", "--delay", "0.01", poem_path],
            env=self.daemon.env(), stdout=subprocess.PIPE, text=True)

        def stop():
            stop_process(server)
            server.stdout.close()
        self.addCleanup(stop)
        line = server.stdout.readline()
        self.assertTrue(line.startswith("Serving "), line)
        return int(line.rstrip(".\n").rsplit(" ", 1)[1]), server

    def test_poetry_pair(self):
        first = os.path.join(EXAMPLES_DIR, "ozymandias.txt")
        second = os.path.join(self.daemon.dir, "short.txt")
        with open(second, "w") as f:
            f.write("Roses are red,\nviolets are blue;\n"
                    "this poem arrives\nfifty bytes at a go.\n" * 5)
        port1, server1 = self.start_server(first)
        port2, server2 = self.start_server(second)
        out, _ = self.run_example("poetry_client.py", "127.0.0.1:%d" % port1,
                                  str(port2))
        for path, number, port in ((first, 1, port1), (second, 2, port2)):
            with open(path) as f:
                poem = f.read()
            self.assertIn(poem, out)
            self.assertIn("Task %d: %d bytes of poetry from 127.0.0.1:%d in "
                          % (number, len(poem.encode()), port), out)
            self.assertIn("Task %d: got " % number, out)
        self.assertIn("Got 2 poems in ", out.splitlines()[-1])
        # The servers keep serving after a client is done.
        out, _ = self.run_example("poetry_client.py", str(port1))
        self.assertIn("Got 1 poems in ", out)
        for server in (server1, server2):
            self.assertIsNone(server.poll())

    def test_poetry_client_failure(self):
        result = subprocess.run(
            [PYTHON, os.path.join(EXAMPLES_DIR, "poetry_client.py"), "1"],
            env=self.daemon.env(), capture_output=True, text=True,
            timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("Task 1: failed to get poetry from 127.0.0.1:1",
                      result.stdout)


if __name__ == "__main__":
    unittest.main()
