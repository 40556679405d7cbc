"""Drive an interactive program through a real pseudo-terminal, as a person at a keyboard.

Usage: terminal.py STEPS_JSON -- PROGRAM [ARGS...]

STEPS_JSON is a list of [op, arg]: ["send", text] types text (TAB completes, "\r" is
Enter); ["expect", regex] waits up to 15 s for the regex in the screen output since the
previous match, with terminal escape sequences and carriage returns removed. Exits 0 when
every expectation is met. Like a terminal, it answers cursor-position queries. Otherwise prints what it waited for and the transcript, exits 1.
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

ESCAPES = re.compile(rb"\x1b\[[0-9;?>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78M]|\r|\x07")


def main():
    steps = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    raw = b""
    seen = 0  # where the next expectation starts looking, in the cleaned output

    def read_for(seconds):
        nonlocal raw
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], max(0, end - time.time()))
            if not ready:
                return
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            # Answer cursor-position queries as a terminal would (fzf --height asks).
            for _ in range(data.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")
            raw += data
            return

    def fail(message):
        sys.stderr.write(f"{message}\n--- transcript (cleaned) ---\n")
        sys.stderr.write(ESCAPES.sub(b"", raw).decode(errors="replace"))
        sys.stderr.write("\n--- end ---\n")
        os.kill(pid, signal.SIGKILL)
        sys.exit(1)

    for op, arg in steps:
        if op == "send":
            time.sleep(0.05)
            os.write(fd, arg.encode())
        elif op == "expect":
            pattern = re.compile(arg.encode())
            deadline = time.time() + 15
            while True:
                clean = ESCAPES.sub(b"", raw)
                match = pattern.search(clean, seen)
                if match:
                    seen = match.end()
                    break
                if time.time() > deadline:
                    fail(f"timed out waiting for {arg!r}")
                read_for(0.2)
        else:
            fail(f"unknown step {op!r}")
    sys.stdout.write(ESCAPES.sub(b"", raw).decode(errors="replace"))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


main()
