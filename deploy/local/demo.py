"""demo.py — the interview walkthrough: scenes run one by one against a running local cim
(deploy/local/up.sh), each proving one design decision on the live system and printing
its evidence (docs/WALKTHROUGH.md says which scene shows which decision).

  deploy/local/demo.sh                 every scene, in order
  deploy/local/demo.sh dedup overload  those scenes
  deploy/local/demo.sh --list          the scenes

The cluster is found through its run folder (--run, else CIM_RUN, else ./run): ports.env
for MariaDB, Redis and etcd, the gateways from their registrations in etcd (or
--gateways URL,URL / CIM_DEMO_GATEWAYS), the daemons' logs and pid files. Each scene
leaves the cluster as it found it: live config keys it put in etcd are restored, a daemon
it killed is started again. Exit status 1 if any scene's own checks failed.
"""
import argparse
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "demo"))
import common  # noqa: E402
import scene_big_group  # noqa: E402
import scene_dedup  # noqa: E402
import scene_kill_logic  # noqa: E402
import scene_overload  # noqa: E402
import scene_redis_loss  # noqa: E402
import scene_trace  # noqa: E402

SCENES = {
    "trace": scene_trace,
    "dedup": scene_dedup,
    "kill-logic": scene_kill_logic,
    "redis-loss": scene_redis_loss,
    "big-group": scene_big_group,
    "overload": scene_overload,
}


def main():
    ap = argparse.ArgumentParser(description="the cim walkthrough, scene by scene")
    ap.add_argument("scenes", nargs="*", help="scenes to run (default: all, in order)")
    ap.add_argument("--list", action="store_true", help="list the scenes and exit")
    ap.add_argument("--run", default=os.environ.get("CIM_RUN", os.path.join(common.ROOT, "run")),
                    help="the cluster's run folder (default: $CIM_RUN or ./run)")
    ap.add_argument("--gateways", default=os.environ.get("CIM_DEMO_GATEWAYS"),
                    help="gateway URLs, comma-separated (default: the gateways registered in etcd)")
    ap.add_argument("--zipkin", default=os.environ.get("CIM_ZIPKIN_URL"),
                    help="Zipkin URL for the trace link (default: $CIM_ZIPKIN_URL, else "
                         "http://127.0.0.1:$CIM_ZIPKIN_PORT if the run folder has a live zipkin)")
    args = ap.parse_args()
    if args.list:
        for name, mod in SCENES.items():
            print("%-11s %s" % (name, mod.TITLE))
        return 0
    unknown = [s for s in args.scenes if s not in SCENES]
    if unknown:
        ap.error("unknown scene(s) %s; --list shows them" % ", ".join(unknown))
    env = common.Env(args.run, args.gateways.split(",") if args.gateways else None, args.zipkin)
    if env.zipkin is None and env.pid("zipkin"):
        env.zipkin = "http://127.0.0.1:%s" % os.environ.get("CIM_ZIPKIN_PORT", "9411")
    print("demo: cluster in %s, gateways %s" % (env.run, " ".join(env.gateways)))
    failed = []
    for name in args.scenes or list(SCENES):
        t0 = time.time()
        try:
            SCENES[name].run(env)
            print("  verdict: %s PASS (%.1f s)" % (name, time.time() - t0))
        except common.Failed as e:
            failed.append(name)
            print("  verdict: %s FAIL: %s" % (name, e))
        except Exception as e:  # noqa: BLE001 - one scene's crash must not stop the others
            failed.append(name)
            traceback.print_exc(file=sys.stdout)
            print("  verdict: %s FAIL: %s: %s" % (name, type(e).__name__, e))
        sys.stdout.flush()
    print()
    print("demo: %d scene(s), %s" % (len(args.scenes or SCENES), "all passed" if not failed else
                                      "FAILED: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
