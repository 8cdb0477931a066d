"""The shipped binary carries the hardening the build promises: a
position-independent executable, full RELRO (BIND_NOW), a non-executable
stack, the stack protector and, outside sanitizer and Debug builds,
_FORTIFY_SOURCE (checked *_chk calls)."""
import os
import re
import subprocess
import unittest

from harness import JITGATE, run


def cache():
    build = os.environ.get("JG_BUILD_DIR") or os.path.dirname(JITGATE)
    out = {}
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_]+):[A-Z]+=(.*)$", line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args) + [JITGATE],
                          capture_output=True, text=True, check=True).stdout


class HardeningTest(unittest.TestCase):
    def test_pie_relro_now_noexecstack(self):
        self.assertRegex(readelf("-h"), r"Type:\s+DYN")
        self.assertIn("GNU_RELRO", readelf("-l"))
        dyn = readelf("-d")
        self.assertRegex(dyn, r"FLAGS.*\bNOW\b|BIND_NOW")
        self.assertRegex(dyn, r"FLAGS_1.*\bPIE\b")
        stack = [l for l in readelf("-l").splitlines() if "GNU_STACK" in l]
        self.assertEqual(len(stack), 1)
        self.assertNotIn("E", stack[0].split()[-2])  # flags RW, not RWE

    def test_stack_protector_and_fortify(self):
        syms = readelf("--dyn-syms")
        self.assertIn("__stack_chk_fail", syms)
        c = cache()
        sanitized = c.get("JG_SANITIZE") == "ON" or c.get("JG_TSAN") == "ON"
        if sanitized or c.get("CMAKE_BUILD_TYPE") == "Debug":
            # the sanitizers' interceptors check instead; nothing to see
            self.assertNotRegex(syms, r"__(memcpy|snprintf|vsnprintf)_chk")
        else:
            self.assertRegex(syms, r"__(snprintf|vsnprintf|memcpy|fprintf)_chk")


if __name__ == "__main__":
    run(HardeningTest)
