"""server_cpu.py RUN_DIR -- im-bench p2p ...: server CPU per message.

Runs the bench and sums utime+stime of every server process of the local cluster (each
pid in RUN_DIR/pids: daemons, Kafka, MariaDB, Redis, etcd) from the moment the bench
starts sending (its "; sending" line) to the moment it starts draining, then divides by
the messages sent in between. Registration and the final verification sync are outside
the window."""
import os
import re
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(run):
    """{process name: CPU seconds so far} of every pid in RUN/pids."""
    out = {}
    for name in os.listdir(os.path.join(run, "pids")):
        try:
            pid = open(os.path.join(run, "pids", name)).read().strip()
            fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            out[name[:-4]] = (int(fields[11]) + int(fields[12])) / TICK   # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return out


def main():
    run, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    c0 = c1 = None
    sent0 = sent1 = 0
    last = None   # the latest progress line's snapshot: the window ends there if no drain shows
    for line in proc.stdout:
        sys.stdout.write(line)
        m = re.search(r"sent (\d+)", line)
        if c0 is None and "; sending" in line:
            c0 = server_cpu(run)
        elif c0 is not None and c1 is None and m and line.startswith("im-bench:"):
            last = (server_cpu(run), int(m.group(1)))
            if "(draining)" in line:
                c1, sent1 = last
    if c1 is None and last is not None:
        c1, sent1 = last
    rc = proc.wait()
    if c0 is not None and c1 is not None and sent1 > sent0:
        spent = {k: c1[k] - c0.get(k, 0) for k in c1}
        total = sum(spent.values())
        print("server CPU: %.2f s for %d messages = %.3f ms per message" % (total, sent1, total * 1000 / sent1))
        for k, v in sorted(spent.items(), key=lambda kv: -kv[1]):
            print("  %-10s %6.2f s  %5.1f%%  %.3f ms/msg" % (k, v, 100 * v / total, v * 1000 / sent1))
    sys.exit(rc)


if __name__ == "__main__":
    main()
