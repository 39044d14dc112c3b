#!/usr/bin/python3
"""grpc_python_ping.py HOST:PORT SERVICE — call SERVICE.Ping with Python's grpcio.

SERVICE is `logic` (im.logic.v1.Logic) or `repo` (im.repo.v1.Repo). Stubs are generated
at run time from proto/ into a temp dir, so this checks cim's C gRPC layer against an
independent implementation. Prints the reply; exits 0 only if reply.service is the
expected "im-logic" / "im-repo".

Needs Debian's python3-grpcio and python3-grpc-tools: run with /usr/bin/python3.
"""
import importlib
import os
import subprocess
import sys
import tempfile

SERVICES = {"logic": ("logic", "Logic", "im-logic"), "repo": ("repo", "Repo", "im-repo")}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in SERVICES:
        print("usage: grpc_python_ping.py HOST:PORT logic|repo", file=sys.stderr)
        return 2
    target, (module, service, expect) = sys.argv[1], SERVICES[sys.argv[2]]
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proto_dir = os.path.join(repo_root, "proto")

    import grpc  # after the usage check: a clear message if grpcio is missing

    with tempfile.TemporaryDirectory(prefix="cim-pystubs-") as out:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir,
             "--python_out=" + out, "--grpc_python_out=" + out,
             os.path.join(proto_dir, "common.proto"), os.path.join(proto_dir, "logic.proto"),
             os.path.join(proto_dir, "repo.proto")],
            check=True)
        sys.path.insert(0, out)
        common_pb2 = importlib.import_module("common_pb2")
        grpc_mod = importlib.import_module(module + "_pb2_grpc")

        with grpc.insecure_channel(target) as channel:
            stub = getattr(grpc_mod, service + "Stub")(channel)
            try:
                reply = stub.Ping(common_pb2.PingRequest(**{"from": "python-grpcio"}),
                                  timeout=5, metadata=[("x-trace-id", "py" + "0" * 30)])
            except grpc.RpcError as e:
                print("rpc failed: %s %s" % (e.code(), e.details()), file=sys.stderr)
                return 1
    print("service=%s instance=%s path=%s" % (reply.service, reply.instance, list(reply.path)))
    if reply.service != expect:
        print("unexpected service %r, want %r" % (reply.service, expect), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
