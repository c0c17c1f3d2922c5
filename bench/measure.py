#!/usr/bin/env python3
"""Run one command and report its wall time, CPU time and peak RSS as one JSON line on stdout.

    python3 bench/measure.py [--stdout PATH] -- COMMAND [ARGS...]

The child's stdout goes to /dev/null (or PATH); its stderr is kept in a temporary file and the
last 2000 characters are returned as "stderr_tail". Wall time is taken around spawn and wait;
CPU time and peak RSS come from wait4(2)'s rusage for that child alone (ru_maxrss is in KiB on
Linux), so nothing else running on the machine is counted. Used by bench/replay-bench.ts.
"""
import json
import os
import sys
import tempfile
import time


def main(argv):
    stdout_path = os.devnull
    args = list(argv)
    if args[:1] == ['--stdout']:
        if len(args) < 2:
            print('measure.py: --stdout needs a path', file=sys.stderr)
            return 2
        stdout_path = args[1]
        args = args[2:]
    if args[:1] != ['--'] or len(args) < 2:
        print('usage: measure.py [--stdout PATH] -- COMMAND [ARGS...]', file=sys.stderr)
        return 2
    cmd = args[1:]
    with tempfile.TemporaryFile() as err:
        out_fd = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            actions = [
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
                (os.POSIX_SPAWN_CLOSE, 0),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            ]
            start = time.perf_counter()
            pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - start
        finally:
            os.close(out_fd)
        err.seek(0)
        tail = err.read().decode('utf-8', 'replace')[-2000:]
    result = {
        'cmd': cmd,
        'exit': os.waitstatus_to_exitcode(status),
        'wall_s': wall,
        'user_s': usage.ru_utime,
        'sys_s': usage.ru_stime,
        'maxrss_kib': usage.ru_maxrss,
        'stderr_tail': tail,
    }
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
