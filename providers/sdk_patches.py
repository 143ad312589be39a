"""Every change ocm-hub makes to the Pulumi SDK's internals, in one place, each guarded.

Three patches make a 1,000-cluster fleet work with pulumi 3.272.0 (the pin); each was checked against the
SDK's source, identical from 3.260.0 to 3.272.0:

- `serialized_once` (with `pickler_restored`): the SDK serializes a dynamic resource's provider on every
  construction, and leaves one more wrapper on `pickle._Pickler` each time: quadratic cost, then
  RecursionError past ~300 resources (../shared/research/pulumi-dynamic-scale.md).
- `stack_traces_from_frames`: the SDK's `_get_stack_trace` reads every frame's source line for every
  resource; the same trace is built from the frames alone.
- `widen_provider_server`: `python -m pulumi.dynamic` serves from a pool of 4 threads, and a join holds its
  thread while it waits: at most 4 registrations would progress, whatever `maxConcurrentJoins` says.

Each patch applies only when the installed SDK is within SUPPORTED and the symbol it touches still has the
shape it relies on. Otherwise it leaves the SDK as shipped and says so once, in one line on stderr, with
what is lost: nothing breaks at a small fleet, large fleets are slower (or, for the serializer, fail past
~300 registrations). A newer SDK is supported once its source is checked and SUPPORTED raised.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import inspect
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pulumi.dynamic.dynamic as dynamic_module
import pulumi.runtime.resource as resource_module
from pulumi.runtime.proto import source_pb2

# [first, past): the SDK versions whose internals the patches were checked against.
SUPPORTED = ((3, 260, 0), (3, 273, 0))
SDK_SERVER = "pulumi.dynamic.__main__"
_POOL_ATTRIBUTES = ("_max_workers", "_shutdown_lock", "_work_queue", "_adjust_thread_count")
_PICKLER_ATTRIBUTES = ("_batch_setitems", "save_dict")


@dataclass(frozen=True)
class Patch:
    name: str
    loses: str  # what the user loses when the patch cannot apply


SERIALIZER = Patch(
    "one provider serialization per program",
    "every registration serializes its provider (slower), and past ~300 registrations in one program the "
    "SDK's pickler wrappers raise RecursionError",
)
STACK_TRACE = Patch(
    "stack traces from frames", "each registration's stack trace reads source files (slower at fleet scale)"
)
SERVER_POOL = Patch(
    "provider server threads",
    "the SDK's provider server runs 4 calls at once: at most 4 registrations join at once, whatever "
    "maxConcurrentJoins says",
)

_verdicts: dict[str, bool] = {}  # patch name -> may apply, decided once per process
_verdicts_lock = threading.Lock()


def version_problem(version: str) -> str | None:
    """Why the patches do not apply to this SDK version, or None when it is within SUPPORTED."""
    try:
        parts = tuple(int(part) for part in version.split(".")[:3])
    except ValueError:
        return f"pulumi SDK version {version!r} cannot be read"
    first, past = SUPPORTED
    if first <= parts < past:
        return None
    return (
        f"pulumi SDK {version} is outside the versions these patches were checked against "
        f"({_dotted(first)} up to, not including, {_dotted(past)})"
    )


def installed_version() -> str:
    return importlib.metadata.version("pulumi")


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _applies(patch: Patch, shape: Callable[[], str | None]) -> bool:
    """Whether `patch` may apply here: the SDK's version, then the shape of what it touches. Refused, it
    says so once per process."""
    with _verdicts_lock:
        if patch.name not in _verdicts:
            why = version_problem(installed_version()) or shape()
            _verdicts[patch.name] = why is None
            if why is not None:
                print(
                    f"ocm-hub: SDK patch '{patch.name}' not applied: {why}; {patch.loses}", file=sys.stderr, flush=True
                )
        return _verdicts[patch.name]


# --- one provider serialization per program ------------------------------------------------------------


def serializer_shape(module: Any, resource: Any, pickler: Any) -> str | None:
    """None when `module.serialize_provider(provider)` exists, `resource.__init__` looks it up by name when
    it runs (so swapping the module attribute is seen), and `pickler` has the attributes it wraps."""
    serialize = getattr(module, "serialize_provider", None)
    if not callable(serialize):
        return "pulumi.dynamic.dynamic.serialize_provider is gone"
    if list(inspect.signature(serialize).parameters) != ["provider"]:
        return "pulumi.dynamic.dynamic.serialize_provider no longer takes (provider)"
    init = getattr(getattr(resource, "__init__", None), "__code__", None)
    if not isinstance(init, CodeType) or "serialize_provider" not in init.co_names:
        return "pulumi.dynamic.Resource no longer looks serialize_provider up when constructed"
    missing = [name for name in _PICKLER_ATTRIBUTES if name not in vars(pickler)]
    if missing:
        return f"pickle._Pickler has no {', '.join(missing)}"
    return None


_SERIALIZED: dict[type, str] = {}
_pickler_lock = threading.Lock()


@contextlib.contextmanager
def pickler_restored() -> Iterator[None]:
    """Undo what `serialize_provider` leaves behind on `pickle._Pickler`: restoring the class attributes after
    each serialization keeps it one wrapper deep. Touches the standard library only, never the SDK."""
    pickler: Any = pickle._Pickler
    saved = {name: pickler.__dict__[name] for name in _PICKLER_ATTRIBUTES if name in pickler.__dict__}
    with _pickler_lock:
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(pickler, name, value)


@contextlib.contextmanager
def serialized_once() -> Iterator[None]:
    """Serialize each provider class once per program instead of once per resource.

    Our providers hold no state until the engine configures them, so every instance pickles to the same
    bytes; swapping in a cached `serialize_provider` for the duration of a construction is enough. 1,000
    registrations then cost one dill serialization, not 1,000.
    """
    module: Any = dynamic_module
    if not _applies(SERIALIZER, lambda: serializer_shape(module, _dynamic_resource(), pickle._Pickler)):
        yield
        return
    original = module.serialize_provider

    def cached(provider: Any) -> str:
        key = type(provider)
        if key not in _SERIALIZED:
            with pickler_restored():
                _SERIALIZED[key] = original(provider)
        return _SERIALIZED[key]

    module.serialize_provider = cached
    try:
        yield
    finally:
        module.serialize_provider = original


def _dynamic_resource() -> Any:
    return getattr(dynamic_module, "Resource", None)


# --- stack traces from frames ----------------------------------------------------------------------------


def stack_trace_shape(module: Any) -> str | None:
    """None when `module._get_stack_trace()` exists, takes nothing, and the trace's messages have the fields
    `_stack_trace` fills."""
    current = getattr(module, "_get_stack_trace", None)
    if not callable(current):
        return "pulumi.runtime.resource._get_stack_trace is gone"
    if inspect.signature(current).parameters:
        return "pulumi.runtime.resource._get_stack_trace now takes arguments"
    fields = {
        "StackTrace": ("frames",),
        "StackFrame": ("pc",),
        "SourcePosition": ("uri", "line"),
    }
    for message, names in fields.items():
        known = getattr(getattr(source_pb2, message, None), "DESCRIPTOR", None)
        if known is None or any(name not in known.fields_by_name for name in names):
            return f"pulumi.runtime.proto.source_pb2.{message} no longer has {', '.join(names)}"
    return None


@functools.cache
def _file_uri(filename: str) -> str | None:
    try:
        return Path(filename).as_uri()
    except ValueError:  # a relative name, such as <frozen runpy>
        return None


def _stack_trace() -> source_pb2.StackTrace:
    """What pulumi 3.272's `_get_stack_trace` returns (every frame outside the third `__init__` from the top,
    innermost first), built from the frames themselves: the SDK's reads each frame's source line and makes
    a file URI per frame, for every resource, and registrations are constructed deep under our components."""
    frame: FrameType | None = sys._getframe()
    inits = 0
    while frame is not None and inits < 3:
        inits += frame.f_code.co_name == "__init__"
        frame = frame.f_back
    frames = []
    while frame is not None:
        filename, line = frame.f_code.co_filename, frame.f_lineno
        uri = _file_uri(filename) if filename and line is not None else None
        frames.append(source_pb2.StackFrame(pc=source_pb2.SourcePosition(uri=uri, line=line) if uri else None))
        frame = frame.f_back
    return source_pb2.StackTrace(frames=frames)


@contextlib.contextmanager
def stack_traces_from_frames() -> Iterator[None]:
    module: Any = resource_module
    if not _applies(STACK_TRACE, lambda: stack_trace_shape(module)):
        yield
        return
    original = module._get_stack_trace
    module._get_stack_trace = _stack_trace
    try:
        yield
    finally:
        module._get_stack_trace = original


# --- provider server threads -----------------------------------------------------------------------------


def server_main_shape(main: CodeType | None) -> str | None:
    """None when the server's `main()` keeps its gRPC server in a local named `server`."""
    if main is None:
        return f"{SDK_SERVER} has no main()"
    if "server" not in main.co_varnames:
        return f"{SDK_SERVER}.main() no longer keeps its gRPC server in a local named server"
    return None


def server_pool(server: Any) -> ThreadPoolExecutor | str:
    """The thread pool a gRPC server runs its calls on, or what is not as expected."""
    pool = getattr(getattr(server, "_state", None), "thread_pool", None)
    if not isinstance(pool, ThreadPoolExecutor):
        return "the gRPC server's thread pool is not at server._state.thread_pool"
    missing = [name for name in _POOL_ATTRIBUTES if not hasattr(pool, name)]
    if missing:
        return f"ThreadPoolExecutor has no {', '.join(missing)}"
    return pool


def server_main_code() -> CodeType | None:
    """The server's `main()` as the installed SDK ships it, read without running it (importing the module
    starts the server)."""
    spec = importlib.util.find_spec(SDK_SERVER)
    if spec is None or spec.origin is None:
        return None
    module = compile(Path(spec.origin).read_text(), spec.origin, "exec")
    found = [c for c in module.co_consts if isinstance(c, CodeType) and c.co_name == "main"]
    return found[0] if found else None


def provider_server_can_widen() -> bool:
    """Whether the server patch will apply, judged in the program (whose output the user sees; the provider
    server's own goes to the engine's debug log): the SDK's version and its server's `main()`."""
    return _applies(SERVER_POOL, lambda: server_main_shape(server_main_code()))


_found: list[ThreadPoolExecutor | None] = []  # the server's pool, once looked for
_server_lock = threading.Lock()


def widen_provider_server(max_workers: int) -> int | None:
    """Raise the provider server's pool to `max_workers` threads (never lower it): its bound after, or None
    when this process is not the SDK's server or the patch does not apply (then the SDK's 4 stay)."""
    if not _in_server():
        return None
    with _server_lock:
        if not _found:
            _found.append(_server_pool())
        found = _found[0]
        return None if found is None else raise_bound(found, max_workers)


def _server_pool() -> ThreadPoolExecutor | None:
    main = getattr(sys.modules["__main__"], "main", None)
    problem = server_main_shape(getattr(main, "__code__", None))
    pool = server_pool(_main_local("server")) if problem is None else problem
    if not _applies(SERVER_POOL, lambda: pool if isinstance(pool, str) else None):
        return None
    return pool if isinstance(pool, ThreadPoolExecutor) else None


def raise_bound(pool: ThreadPoolExecutor, max_workers: int) -> int:
    """The executor starts threads on demand up to its bound; calls queued while it was narrow get threads
    now, not at the next submit."""
    edit: Any = pool
    if edit._max_workers < max_workers:
        with edit._shutdown_lock:
            edit._max_workers = max_workers
            for _ in range(edit._work_queue.qsize()):
                edit._adjust_thread_count()
    return int(edit._max_workers)


def _in_server() -> bool:
    return getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None) == SDK_SERVER


def _main_local(name: str) -> Any:
    """A local of the server's `main()`, which the main thread is waiting in: made before any provider is
    loaded, it is reachable only through that frame."""
    main_globals = vars(sys.modules["__main__"])
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None and not (frame.f_code.co_name == "main" and frame.f_globals is main_globals):
        frame = frame.f_back
    return frame.f_locals.get(name) if frame is not None else None
