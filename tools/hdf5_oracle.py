#!/usr/bin/env python3
"""What libhdf5 (through h5py) reads from HDF5 files: the oracle of RNNKit's own HDF5 reader.

Reads file paths, one per line, on standard input and prints one JSON line per file:

    {"file": PATH, "ok": true, "groups": [...], "datasets": [...]}
    {"file": PATH, "ok": false, "error": "..."}

Each group is {"path", "attributes"}; each dataset is {"path", "dtype", "shape", "sha256",
"attributes"}, where sha256 is the digest of the elements in little-endian byte order, row-major
(what RNNKit's `sha256` attribute covers). Attributes are {name: {"shape", "kind", "values"}} with
kind one of "int", "float", "string", "bool", "enum"; float values are the hex of their float64
bits, integers decimal strings, so the comparison is exact.

libhdf5 may crash, loop or allocate without bound on a damaged file, so every file is read in
a forked child with a time and memory limit; a child that dies or runs out of time is reported
as {"ok": false}.
The Swift test (HDF5DifferentialTests) compares this with RNNKit's reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import select
import signal
import struct
import sys
import time

import h5py
import numpy as np

TIME_LIMIT = 10  # seconds per file
MEMORY_LIMIT = 2 << 30  # bytes of address space per child


def attribute(value, enum=None) -> dict:
    array = np.asarray(value)
    shape = list(array.shape)
    flat = array.reshape(-1)
    dtype = array.dtype
    if dtype == np.bool_:
        return {"shape": shape, "kind": "bool", "values": [bool(v) for v in flat]}
    if dtype.kind in "iu":
        if enum is not None:
            names = {v: k for k, v in enum.items()}
            return {"shape": shape, "kind": "enum", "values": [names.get(int(v), "?") for v in flat]}
        return {"shape": shape, "kind": "int", "values": [str(int(v)) for v in flat]}
    if dtype.kind == "f":
        return {"shape": shape, "kind": "float", "values": [struct.pack("<d", float(v)).hex() for v in flat]}
    if dtype.kind in "SUO":
        def text(v):
            if isinstance(v, bytes):
                return v.decode("utf-8", errors="replace")
            return str(v)
        return {"shape": shape, "kind": "string", "values": [text(v) for v in flat]}
    return {"shape": shape, "kind": "other", "values": []}


def text(name) -> str:
    return name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name


def attributes(obj) -> dict:
    return {text(name): attribute(obj.attrs[name], h5py.check_enum_dtype(obj.attrs.get_id(name).dtype)) for name in obj.attrs}


def describe(path: str) -> dict:
    groups, datasets = [], []
    with h5py.File(path, "r") as f:
        def visit(group, name):
            groups.append({"path": name, "attributes": attributes(group)})
            for key in group:  # name order, as libhdf5's name index gives it
                link = group.get(key, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    raise ValueError(f"{type(link).__name__} at {key}")
                child = group[key]
                child_name = name.rstrip("/") + "/" + text(key)
                if isinstance(child, h5py.Datatype):
                    raise ValueError(f"named datatype at {key}")
                if isinstance(child, h5py.Group):
                    visit(child, child_name)
                else:
                    array = np.asarray(child[()])
                    numeric = array.dtype.kind in "iuf"
                    digest = None
                    if numeric:
                        little = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<")))
                        digest = hashlib.sha256(little.tobytes()).hexdigest()
                    kind = {"f": "float", "i": "int", "u": "uint"}.get(array.dtype.kind, "other")
                    datasets.append({
                        "path": child_name,
                        "dtype": f"{kind}{array.dtype.itemsize * 8}",
                        "shape": list(array.shape),
                        "sha256": digest,
                        "attributes": attributes(child),
                    })
        visit(f, "/")
    return {"groups": groups, "datasets": datasets}


def child(path: str, write_fd: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    try:
        result = {"ok": True, **describe(path)}
    except BaseException as error:  # noqa: BLE001 - any failure is the answer
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:500]}
    os.write(write_fd, json.dumps(result).encode())
    os._exit(0)


def read_one(path: str) -> dict:
    """Runs `child` in a fork; the parent kills it past the time limit (a signal the child sets
    itself could be blocked by the mask it inherited)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child(path, write_fd)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + TIME_LIMIT
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_fd], [], [], remaining)[0]:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"status {os.WEXITSTATUS(status)}"
        result = {"ok": False, "error": "libhdf5 did not finish within %d s" % TIME_LIMIT if timed_out else f"libhdf5 died ({how})"}
    return {"file": path, **result}


def main() -> None:
    for line in sys.stdin:
        path = line.rstrip("\n")
        if path:
            print(json.dumps(read_one(path)), flush=True)


if __name__ == "__main__":
    main()
