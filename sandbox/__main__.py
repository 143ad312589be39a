"""The local clusters from a shell: `make cluster-up`, `make cluster-down`, `make cluster-status`.

    python -m sandbox up [--no-vela] [NAME ...]
                                          start (building missing tools), or reuse healthy ones; the
                                          hub with KubeVela (--no-vela: as before `vela install`)
    python -m sandbox down [NAME ...]     stop and remove their data
    python -m sandbox status [NAME ...]   the state of each cluster and of their kubelet
    python -m sandbox check [NAME ...]    exit 0 when the clusters and their kubelet run, else 1
    python -m sandbox pids [NAME ...]     the processes a run on them depends on, one line

NAME defaults to both clusters (for down: every cluster there is); OCM_HUB_E2E_DIR names another state
directory (another set of clusters).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sandbox import clusters


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command, help_text in (
        ("up", "start the clusters (building missing binaries), or reuse healthy ones"),
        ("down", "stop the clusters and remove their data"),
        ("status", "print the state of each cluster"),
        ("check", "exit 0 when the clusters and their kubelet run, else 1"),
        ("pids", "print the process ids of the clusters' components and their kubelet, one line"),
    ):
        cmd = sub.add_parser(command, help=help_text)
        # down with no NAME stops every cluster there is (managed-2 too), so it keeps an empty list.
        default = [] if command == "down" else list(clusters.CLUSTERS)
        cmd.add_argument("names", nargs="*", default=default, metavar="NAME")
        if command == "up":
            cmd.add_argument(
                "--no-vela", action="store_true", help="the hub without KubeVela (as before `vela install`)"
            )
    watchdog = sub.add_parser("watchdog", help=argparse.SUPPRESS)
    watchdog.add_argument("--deadline", type=float, required=True)
    watchdog.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "watchdog":
        clusters.run_watchdog(args.name, args.deadline)
    elif args.command == "up":
        started = time.monotonic()
        try:
            paths = clusters.start(args.names, build=True, with_vela=not args.no_vela)
        except clusters.ClusterError as err:
            clusters.log(str(err))
            return 1
        except KeyboardInterrupt:  # start() stopped what it had begun
            return 130
        for name, path in paths.items():
            print(f"{name}: {path}")
        clusters.log(f"ready in {time.monotonic() - started:.1f}s")
    elif args.command == "down":
        clusters.stop(args.names or None)
    elif args.command == "check":
        return 0 if clusters.healthy(args.names) else 1
    elif args.command == "pids":
        print(*clusters.pids(args.names))
    else:
        for name, state in clusters.status(args.names).items():
            print(f"{name}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
