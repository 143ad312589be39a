"""A container's root, built in its own mount namespace, then its program exec'd in it.

The kubelet (sandbox/kubelet.py) starts each container as

    nsenter --target <pod sandbox> --user --net --uts --preserve-credentials --
        unshare --mount -- python -m sandbox.container SPEC.json

so the container shares its pod's network and hostname and has mounts of its own. Here: a tmpfs
becomes the root (writable, gone with the container, as an image's top layer is); the host's /usr
(and /bin, /lib*, /sbin as the host has them), /etc/ssl and /etc/alternatives are bound read-only;
/usr/local is the image's own (empty, then the program); /dev and /proc are the host's; /tmp and
/root are the root's own. The pod's /etc/hosts, resolv.conf and hostname are links into the pod's
network directory (bound at /run/pod), so the kubelet can replace them whole as Services change.
Then every bind the spec names (the program's binary at its path in the image, the pod's volumes at
their mount paths) and the chroot and exec: the process sees paths as in its image, and no argument
is rewritten.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path
from typing import Any

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
ROOT_SIZE = "512m"
HOST_TREES = (
    "/usr",
    "/bin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/sbin",
    "/etc/ssl",
    "/etc/alternatives",
    "/etc/pki",
)
POD_NETWORK_DIR = "/run/pod"
POD_NETWORK_FILES = ("hosts", "resolv.conf", "hostname")
ETC_FILES = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "nsswitch.conf": "hosts: files dns\n",
}
LOCKED_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source or fstype} on {target}: {os.strerror(errno)}")


def bind(source: str, target: str, *, read_only: bool, recursive: bool = False) -> None:
    """Bind source at target (made to match: a directory or a file), read-only if asked; a read-only
    remount keeps the flags the source's mount has locked in this user namespace."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            Path(target).touch()
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if read_only:
        flags = os.statvfs(source).f_flag
        locked = sum(ms for st, ms in LOCKED_FLAGS if flags & st)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked)


def build_root(spec: dict[str, Any]) -> str:
    root = str(spec["root"])
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here leaks back to the host
    os.makedirs(root, exist_ok=True)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=755,size={ROOT_SIZE}")
    for tree in HOST_TREES:
        if os.path.islink(tree):
            os.symlink(os.readlink(tree), root + tree)
        elif os.path.isdir(tree):
            bind(tree, root + tree, read_only=True)
    os.makedirs(root + "/usr/local", exist_ok=True)
    mount("tmpfs", root + "/usr/local", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    for tree in ("/dev", "/proc"):
        bind(tree, root + tree, read_only=False, recursive=True)
    for directory, mode in (("/tmp", 0o1777), ("/root", 0o700), ("/etc", 0o755)):
        os.makedirs(root + directory, exist_ok=True)
        os.chmod(root + directory, mode)
    for name, content in ETC_FILES.items():
        Path(root, "etc", name).write_text(content, encoding="utf-8")
    bind(str(spec["network"]), root + POD_NETWORK_DIR, read_only=True)
    for name in POD_NETWORK_FILES:
        os.symlink(f"{POD_NETWORK_DIR}/{name}", f"{root}/etc/{name}")
    for item in spec["binds"]:  # in order: a mount path inside another comes after it
        bind(str(item["source"]), root + str(item["target"]), read_only=bool(item["readOnly"]))
    return root


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    try:
        root = build_root(spec)
        os.chroot(root)
        os.chdir(spec.get("workingDir") or "/")
    except OSError as err:
        print(f"container: cannot build its root: {err}", file=sys.stderr, flush=True)
        return 128
    program = [str(word) for word in spec["argv"]]
    try:
        os.execve(program[0], program, {str(k): str(v) for k, v in spec["env"].items()})
    except OSError as err:
        print(f"container: cannot start {program[0]}: {err}", file=sys.stderr, flush=True)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
