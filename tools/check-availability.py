#!/usr/bin/env python3
"""Lists every use, in Sources/, Tests/ and Examples/, of a toolchain API newer than the platforms
the package declares, and every Glibc-only name used where Darwin compiles the code.

    tools/check-availability.py [--no-build] [--unverified]

One line per finding, `file:line: <symbol> needs macOS X / iOS Y (declared macOS 13 / iOS 16)`;
exit 1 when there is any, exit 0 with a one-line summary when there is none, exit 2 when the
check cannot run (no index, a file that was not compiled, toolchain data it does not recognise).

How it works
  1. `swift build --build-tests --enable-index-store` (a no-op after tools/test.sh) leaves the
     compiler's index store in the bin path. Its records list, for every compiled Swift file,
     each declaration the type checker resolved a name to: the USR (the mangled identity of the
     exact overload), line and column. This is what the code uses, not what it spells: it sees
     `String(validating:as:)` and `String(decoding:as:)` as different declarations, implicit
     calls (`for in`, literals, string interpolation), and code expanded from macros (reported on
     the macro's line). The store is read through the toolchain's libIndexStore.
  2. `swift-symbolgraph-extract` on the toolchain's modules (Swift, _Concurrency,
     _StringProcessing, Synchronization, Dispatch, Foundation, FoundationEssentials,
     FoundationInternationalization, Testing, ... and every toolchain module a unit depends on)
     gives each public declaration's USR with its `@available` attributes, with the
     `SwiftStdlib x.y` macros expanded and the attributes of enclosing types and extensions
     inherited. A use is a finding when its declaration's macOS or iOS `introduced` version is
     above the declared deployment target, or the declaration is unavailable on that platform,
     unless Apple's compiler would pick an older declaration instead (it ranks overloads that are
     not available in context below the others): one with the same path and the same
     declaration text, such as the default implementation of a protocol requirement that is
     newer (`FixedWidthInteger.&*`, macOS 15, has one), and `next()` where `for await` uses
     `next(isolation:)` (macOS 15; the compiler falls back, SE-0421). The summary counts these.
  3. A small lexer reads each source file for the scopes that make a use legal or moot:
     - `if #available(macOS 15, iOS 18, *) { ... }`, `while #available(...) { ... }`,
       `guard #available(...) else { ... }` (the rest of the enclosing block),
       `if #unavailable(...) { } else { ... }` (the else block),
       `@available(macOS 15, iOS 18, *)` / `@available(iOS, unavailable)` on a declaration (the
       attribute to the end of the declaration's body);
     - `#if` branches that Apple platforms never compile (`os(Linux)`, `canImport(Glibc)`, ...),
       evaluated separately for macOS and for iOS with three-valued logic (an unknown flag is
       neither true nor false, so it excuses nothing).
  4. Deployment targets come from `swift package dump-package`; a platform Package.swift does not
     declare is checked against the floor issue 15 plans (macOS 13, iOS 16), and the summary says
     so.

  Glibc-only names (findings of the form `... is Glibc-only ...`), outside branches Darwin never
  compiles: `import Glibc`; C declarations whose name, or the name of whose enclosing enum or
  struct, starts with `__` (glibc's implementation names such as `__rusage_who_t`, `__rusage_who`
  of `RUSAGE_SELF.rawValue`, `__socket_type`: Darwin's libc has none of them); and a short,
  labeled table of Linux-only libc names (GLIBC_ONLY below). POSIX names both libcs have (`open`,
  `errno`, `stat`) are not findings, though on Linux they resolve to the Glibc module: Darwin's
  module has its own. A libc name whose type differs between the two without a `__` marker
  (other than those in GLIBC_ONLY) is not caught.

What it cannot check
  - Foundation on Linux is not Apple's Foundation. FoundationEssentials and
    FoundationInternationalization (swift-foundation) carry `@available` attributes, mostly
    Apple's own; but swift-foundation maps its `FoundationPreview x.y` macros to one base release
    (macOS 15 / iOS 18) when built for Linux, so an API Apple ships later is reported with a
    version that may be too low (it is still reported). The `Foundation` module itself
    (swift-corelibs-foundation: NSLock, Thread, FileHandle, Process, NSString, ...) and
    `Dispatch` carry almost no availability at all; for them only the table CURATED below
    applies (empty today, see there). `--unverified` lists the declarations in use that have no
    availability data, for a person to review. Platform unavailability that Linux's modules do not
    record is not seen either: `Process` is macOS-only on Apple, so test files that spawn
    processes do not build for iOS, and nothing here says so.
  - Apple-only API (Darwin, os, CryptoKit, UIKit) and every line in a branch only Apple compiles
    (`#elseif canImport(Darwin)`, `#if os(macOS)`) are not compiled here, so nothing in them is
    checked; the summary counts those lines.
  - Language features with a runtime floor are not declarations and are not seen: parameter
    packs in generic types (macOS 14), typed throws in function types used as values or in generic
    metadata, `@isolated(any)`, noncopyable generics' runtime casts (macOS 15), and conformances
    that are themselves newer than the conforming type.
  - Declarations the symbol graph omits (underscored, `@_spi`) have no availability data.
  - Guards: only the forms listed in 3. `guard #unavailable`, availability macros of our own
    (`-define-availability`), an `@available` on a declaration whose header runs over several lines
    before its `{` after another declaration keyword, and regex literals containing braces are not
    understood; a use inside them is reported as if unguarded (a false finding, never a silent pass).
  - Lines in `#if` branches inactive on Linux for another reason (`#if DEBUG` in a release build)
    are not indexed.
"""

import argparse
import concurrent.futures
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SCOPE = ("Sources", "Tests", "Examples")
PLATFORMS = ("macOS", "iOS")
# Checked when Package.swift does not declare the platform (issue 15 plans these floors).
PLANNED_FLOOR = {"macOS": (13, 0, 0), "iOS": (16, 0, 0)}
INF = (10**6,)

# Toolchain modules whose symbol graphs are always read; every other toolchain module a compiled
# file depends on is added.
CORE_MODULES = ("Swift", "_Concurrency", "_StringProcessing", "RegexBuilder", "Synchronization",
                "Dispatch", "Foundation", "FoundationEssentials", "FoundationInternationalization",
                "FoundationNetworking", "FoundationXML", "Observation", "Distributed", "Testing",
                "XCTest")

# Curated: Apple availability of declarations that Linux's modules carry without any, keyed by
# (module, symbol-graph path) -> {platform: (major, minor, patch)}; a key this toolchain does not
# have is an error, so the table cannot rot silently. Each entry needs a source. Empty today: no
# corelibs-foundation or Dispatch declaration in this toolchain is known to be newer on Apple than
# macOS 13 / iOS 16. (NSLocking.withLock(_:) looks like one, documented as iOS 16, but it is
# @_alwaysEmitIntoClient and usable on every release: swift-corelibs-foundation#4735.)
CURATED: dict = {}

# Curated: names the Glibc module exports to Swift that Darwin's libc does not have (or has
# under another name), without glibc's `__` marker. Checked by compiling `import Glibc` uses with
# this toolchain; Linux-only calls Glibc does not export (epoll, getauxval, sched_getaffinity,
# ...) need a C shim, and a shim's own declarations are not findings.
GLIBC_ONLY = {
    "st_atim", "st_mtim", "st_ctim",  # struct stat; Darwin: st_atimespec, st_mtimespec, st_ctimespec
    "d_off",  # struct dirent; Darwin: d_seekoff
    "posix_fallocate", "MAP_POPULATE", "SOCK_CLOEXEC", "SOCK_NONBLOCK",
    "CLOCK_BOOTTIME", "CLOCK_MONOTONIC_COARSE", "CLOCK_REALTIME_COARSE",
    "_SC_LEVEL1_DCACHE_LINESIZE", "_SC_LEVEL1_DCACHE_SIZE", "_SC_LEVEL2_CACHE_SIZE",
    "_SC_LEVEL3_CACHE_SIZE",
}

ROLE_DECLARATION, ROLE_DEFINITION, ROLE_REFERENCE, ROLE_IMPLICIT = 1 << 0, 1 << 1, 1 << 2, 1 << 8
DEPENDENCY_UNIT, DEPENDENCY_RECORD = 1, 2


class CheckError(Exception):
    """The check could not run; exit 2."""


def run(args, **kw):
    return subprocess.run(args, cwd=ROOT, check=True, text=True, capture_output=True, **kw).stdout


def version_text(v):
    """15.0.0 -> "15", 10.14.4 -> "10.14.4"."""
    if v == INF:
        return "unavailable"
    parts = list(v)
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def version(*parts):
    return tuple((list(parts) + [0, 0, 0])[:3])


def parse_version(text):
    parts = text.replace("_", "").split(".")
    if not all(p.isdigit() for p in parts):
        return None
    return version(*(int(p) for p in parts))


# MARK: deployment targets

def deployment_targets():
    manifest = json.loads(run(["swift", "package", "dump-package"]))
    declared = {}
    for p in manifest.get("platforms") or []:
        name = {"macos": "macOS", "ios": "iOS"}.get(p["platformName"])
        if name:
            declared[name] = parse_version(p["version"])
    targets = {p: declared.get(p, PLANNED_FLOOR[p]) for p in PLATFORMS}
    undeclared = [p for p in PLATFORMS if p not in declared]
    return targets, undeclared


# MARK: index store

class IndexStore:
    """The few libIndexStore calls the check needs (indexstore.h, the `_f` callback variants)."""

    class Ref(ctypes.Structure):
        _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t)]

    def __init__(self, library, path):
        vp, Ref = ctypes.c_void_p, self.Ref
        lib = self.lib = ctypes.CDLL(library)
        self.UnitApplier = ctypes.CFUNCTYPE(ctypes.c_bool, vp, Ref)
        self.Applier = ctypes.CFUNCTYPE(ctypes.c_bool, vp, vp)
        sig = {
            "indexstore_store_create": (vp, [ctypes.c_char_p, ctypes.POINTER(vp)]),
            "indexstore_error_get_description": (ctypes.c_char_p, [vp]),
            "indexstore_store_units_apply_f": (ctypes.c_bool, [vp, ctypes.c_uint, vp, self.UnitApplier]),
            "indexstore_unit_reader_create": (vp, [vp, ctypes.c_char_p, ctypes.POINTER(vp)]),
            "indexstore_unit_reader_dispose": (None, [vp]),
            "indexstore_unit_reader_get_main_file": (Ref, [vp]),
            "indexstore_unit_reader_get_modification_time": (None, [vp, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64)]),
            "indexstore_unit_reader_dependencies_apply_f": (ctypes.c_bool, [vp, vp, self.Applier]),
            "indexstore_unit_dependency_get_kind": (ctypes.c_int, [vp]),
            "indexstore_unit_dependency_get_filepath": (Ref, [vp]),
            "indexstore_unit_dependency_get_name": (Ref, [vp]),
            "indexstore_record_reader_create": (vp, [vp, ctypes.c_char_p, ctypes.POINTER(vp)]),
            "indexstore_record_reader_dispose": (None, [vp]),
            "indexstore_record_reader_occurrences_apply_f": (ctypes.c_bool, [vp, vp, self.Applier]),
            "indexstore_occurrence_get_symbol": (vp, [vp]),
            "indexstore_occurrence_get_roles": (ctypes.c_uint64, [vp]),
            "indexstore_occurrence_get_line_col": (None, [vp, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint)]),
            "indexstore_symbol_get_name": (Ref, [vp]),
            "indexstore_symbol_get_usr": (Ref, [vp]),
        }
        for name, (restype, argtypes) in sig.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = restype, argtypes
        error = vp()
        self.store = lib.indexstore_store_create(path.encode(), ctypes.byref(error))
        if not self.store:
            raise CheckError(f"cannot open the index store {path}: {self._describe(error)}")

    def _describe(self, error):
        return (self.lib.indexstore_error_get_description(error) or b"?").decode() if error else "?"

    @staticmethod
    def text(ref):
        return ctypes.string_at(ref.data, ref.length).decode() if ref.length else ""

    def units(self):
        names = []

        def take(_, name):
            names.append(self.text(name))
            return True
        self.lib.indexstore_store_units_apply_f(self.store, 0, None, self.UnitApplier(take))
        return names

    def unit(self, name):
        """(main file, modification time, [(kind, file path, name)] of its dependencies)."""
        lib, error = self.lib, ctypes.c_void_p()
        reader = lib.indexstore_unit_reader_create(self.store, name.encode(), ctypes.byref(error))
        if not reader:
            raise CheckError(f"cannot read index unit {name}: {self._describe(error)}")
        try:
            seconds, nanoseconds = ctypes.c_int64(), ctypes.c_int64()
            lib.indexstore_unit_reader_get_modification_time(reader, ctypes.byref(seconds), ctypes.byref(nanoseconds))
            deps = []

            def take(_, dep):
                deps.append((lib.indexstore_unit_dependency_get_kind(dep),
                             self.text(lib.indexstore_unit_dependency_get_filepath(dep)),
                             self.text(lib.indexstore_unit_dependency_get_name(dep))))
                return True
            lib.indexstore_unit_reader_dependencies_apply_f(reader, None, self.Applier(take))
            return (self.text(lib.indexstore_unit_reader_get_main_file(reader)),
                    seconds.value + nanoseconds.value * 1e-9, deps)
        finally:
            lib.indexstore_unit_reader_dispose(reader)

    def occurrences(self, record):
        """[(line, column, roles, usr, name)] of one record."""
        lib, error = self.lib, ctypes.c_void_p()
        reader = lib.indexstore_record_reader_create(self.store, record.encode(), ctypes.byref(error))
        if not reader:
            raise CheckError(f"cannot read index record {record}: {self._describe(error)}")
        try:
            found = []
            line, column = ctypes.c_uint(), ctypes.c_uint()

            def take(_, occurrence):
                symbol = lib.indexstore_occurrence_get_symbol(occurrence)
                lib.indexstore_occurrence_get_line_col(occurrence, ctypes.byref(line), ctypes.byref(column))
                found.append((line.value, column.value, lib.indexstore_occurrence_get_roles(occurrence),
                              self.text(lib.indexstore_symbol_get_usr(symbol)),
                              self.text(lib.indexstore_symbol_get_name(symbol))))
                return True
            lib.indexstore_record_reader_occurrences_apply_f(reader, None, self.Applier(take))
            return found
        finally:
            lib.indexstore_record_reader_dispose(reader)


# MARK: symbol graphs

class Declaration:
    """One toolchain declaration: where it is, what it needs ({platform: version or INF})."""
    __slots__ = ("module", "path", "needs", "text", "constraints", "curated")

    def __init__(self, module, path, needs, text, constraints):
        self.module, self.path, self.needs = module, path, needs
        self.text, self.constraints, self.curated = text, constraints, False

    @property
    def shown(self):
        return ".".join(self.path) + (" [curated]" if self.curated else "")

    def available_at(self, targets):
        return all(self.needs.get(p, (0,)) <= targets[p] for p in PLATFORMS)


class Toolchain:
    """USR -> Declaration for the public declarations of the toolchain's modules."""

    def __init__(self, modules, triple):
        self.by_usr, self.by_path = {}, {}
        with tempfile.TemporaryDirectory(prefix="check-availability-") as out:
            def extract(module):
                subprocess.run(["swift-symbolgraph-extract", "-module-name", module, "-target", triple,
                                "-output-dir", out, "-minimum-access-level", "public",
                                "-skip-synthesized-members"],
                               check=True, capture_output=True, text=True)
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                for f in [pool.submit(extract, m) for m in sorted(modules)]:
                    f.result()
            for name in sorted(os.listdir(out)):
                with open(os.path.join(out, name)) as f:
                    graph = json.load(f)
                module = graph["module"]["name"]
                for symbol in graph["symbols"]:
                    self.add(module, symbol)
        self.apply_curated()
        self.canary()

    def add(self, module, symbol):
        needs = {}
        for a in symbol.get("availability", []):
            domain = a.get("domain")
            if domain == "*" and a.get("isUnconditionallyUnavailable"):
                needs = {p: INF for p in PLATFORMS}
            if domain not in PLATFORMS:
                continue
            if a.get("isUnconditionallyUnavailable") or "obsoleted" in a:
                needs[domain] = INF
            elif "introduced" in a:
                v = a["introduced"]
                needs[domain] = version(v["major"], v.get("minor", 0), v.get("patch", 0))
        text = "".join(f["spelling"] for f in symbol.get("declarationFragments", []))
        constraints = json.dumps(symbol.get("swiftExtension", {}).get("constraints", []), sort_keys=True)
        d = Declaration(module, tuple(symbol["pathComponents"]), needs, text, constraints)
        usr = symbol["identifier"]["precise"]
        if usr not in self.by_usr or needs:
            self.by_usr[usr] = d
        self.by_path.setdefault(d.path, []).append(d)

    def apply_curated(self):
        for (module, path), needs in CURATED.items():
            found = [d for d in self.by_path.get(tuple(path.split(".")), []) if d.module == module]
            if not found:
                raise CheckError(f"curated entry {module} {path} is not in this toolchain's symbol graphs; update CURATED")
            for d in found:
                d.needs, d.curated = {**d.needs, **needs}, True

    def canary(self):
        """The data must show what the check exists for; otherwise the toolchain's format changed."""
        if not any(d.needs.get("macOS", (0,)) >= (15, 0, 0) for d in self.by_path.get(("String", "init(validating:as:)"), [])):
            raise CheckError("String.init(validating:as:) is not marked macOS 15 in the Swift symbol graph: "
                             "the toolchain's availability data is not what this check understands")

    def older_twin(self, d, targets, implicit):
        """A declaration available at `targets` that the compiler picks instead of `d` when `d`
        is not available (the solver ranks contextually unavailable overloads below the others,
        swiftlang/swift#29921): one with the same path and the same declaration, e.g. the
        `FixedWidthInteger.&*` requirement (macOS 15) and its default implementation; and for
        `for await`, `next()` where `next(isolation:)` is not available (SE-0421)."""
        twins = [t for t in self.by_path.get(d.path, [])
                 if t is not d and t.text == d.text and t.constraints in (d.constraints, "[]")]
        if implicit and d.path[-1] == "next(isolation:)":
            twins += self.by_path.get(d.path[:-1] + ("next()",), [])
        return next((t for t in twins if t.available_at(targets)), None)


# MARK: source scopes

TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<linecomment>//[^\n]*)
  | (?P<blockcomment>/\*)
  | (?P<string>\#*"(?:"")?)
  | (?P<ident>`[^`\n]+`|[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)
  | (?P<pound>\#[A-Za-z_]+)
  | (?P<attr>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9][0-9_]*(?:\.[0-9][0-9_]*)*)
  | (?P<punct>.)
""", re.X | re.S)

DECL_KEYWORDS = {"func", "var", "let", "init", "subscript", "struct", "class", "enum", "protocol",
                 "extension", "actor", "typealias", "case", "deinit", "macro", "import", "associatedtype"}


def skip_block_comment(text, i):
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def skip_string(text, i, opener):
    """Index after the string literal that starts at i with `opener` (#*" or #*\"\"\")."""
    hashes = opener.count("#")
    close = ('"""' if opener.endswith('"""') else '"') + "#" * hashes
    escape = "\\" + "#" * hashes
    i += len(opener)
    while i < len(text):
        if text.startswith(close, i):
            return i + len(close)
        if text.startswith(escape, i):
            i += len(escape)
            if i < len(text) and text[i] == "(":  # interpolation: code up to the matching paren
                depth, i = 1, i + 1
                while i < len(text) and depth:
                    m = TOKEN.match(text, i)
                    kind = m.lastgroup
                    if kind == "string":
                        i = skip_string(text, i, m.group())
                        continue
                    if kind == "blockcomment":
                        i = skip_block_comment(text, i)
                        continue
                    if m.group() == "(":
                        depth += 1
                    elif m.group() == ")":
                        depth -= 1
                    i = m.end()
            else:
                i += 1
            continue
        if text[i] == "\n" and close == '"':
            return i  # unterminated single-line literal: stop at the line's end
        i += 1
    return i


def tokens(text):
    """[(kind, text, offset)] without spaces and comments; `#if` lines as ("directive", line)."""
    out, i, line_start = [], 0, True
    while i < len(text):
        m = TOKEN.match(text, i)
        kind, value = m.lastgroup, m.group()
        if kind == "space":
            i = m.end()
            continue
        if kind == "linecomment":
            i = m.end()
            continue
        if kind == "blockcomment":
            i = skip_block_comment(text, i)
            continue
        if kind == "newline":
            out.append(("newline", "\n", i))
            line_start, i = True, m.end()
            continue
        if kind == "string":
            end = skip_string(text, i, value)
            out.append(("string", "", i))
            line_start, i = False, end
            continue
        if kind == "pound" and line_start and value in ("#if", "#elseif", "#else", "#endif"):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            body = re.sub(r"//.*|/\*.*?\*/", "", text[m.end():end])
            out.append(("directive", (value, body.strip()), i))
            i = end
            continue
        out.append((kind, value, i))
        line_start, i = False, m.end()
    return out


class Condition:
    """Three-valued evaluation of a `#if` condition for one platform (None: unknown)."""

    APPLE_MODULES = {"Darwin", "Foundation", "Dispatch", "Synchronization", "ObjectiveC",
                     "CoreFoundation", "os", "Testing", "XCTest", "CryptoKit", "Combine"}
    NOT_ON_APPLE = {"Glibc", "Musl", "Bionic", "Android", "WinSDK", "ucrt", "WASILibc",
                    "FoundationEssentials", "FoundationInternationalization",
                    "FoundationNetworking", "FoundationXML"}
    LINUX_MODULES = {"Glibc", "Foundation", "FoundationEssentials", "FoundationInternationalization",
                     "FoundationNetworking", "FoundationXML", "Dispatch", "Synchronization",
                     "Testing", "XCTest"}
    NOT_ON_LINUX = {"Darwin", "ObjectiveC", "CoreFoundation", "os", "CryptoKit", "Combine",
                    "UIKit", "AppKit", "Musl", "Bionic", "Android", "WinSDK", "ucrt", "WASILibc"}

    def __init__(self, platform):
        self.platform = platform

    def atom(self, name, argument):
        p = self.platform
        if name == "os":
            aliases = {"OSX": "macOS"}
            return aliases.get(argument, argument) == p
        if name == "canImport":
            argument = argument.split(",")[0].strip()
            if p == "Linux":
                return True if argument in self.LINUX_MODULES else False if argument in self.NOT_ON_LINUX else None
            if argument in self.APPLE_MODULES or (argument == "UIKit" and p == "iOS") or (argument == "AppKit" and p == "macOS"):
                return True
            return False if argument in self.NOT_ON_APPLE | ({"AppKit"} if p == "iOS" else {"UIKit"}) else None
        if name == "targetEnvironment":
            return False if p in ("Linux", "macOS") else None
        return None  # arch, compiler, swift, hasFeature, hasAttribute, flags

    def evaluate(self, text):
        items = re.findall(r"&&|\|\||!|\(|\)|[A-Za-z_][A-Za-z0-9_]*\s*\([^()]*\)|[A-Za-z_][A-Za-z0-9_]*", text)
        position = 0

        def peek():
            return items[position] if position < len(items) else None

        def take():
            nonlocal position
            position += 1
            return items[position - 1]

        def primary():
            t = take() if peek() is not None else None
            if t == "!":
                v = primary()
                return None if v is None else not v
            if t == "(":
                v = disjunction()
                if peek() == ")":
                    take()
                return v
            if t is None:
                return None
            call = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)$", t)
            if call:
                return self.atom(call.group(1), call.group(2).strip())
            return {"true": True, "false": False}.get(t)

        def conjunction():
            v = primary()
            while peek() == "&&":
                take()
                w = primary()
                v = False if v is False or w is False else (None if v is None or w is None else True)
            return v

        def disjunction():
            v = conjunction()
            while peek() == "||":
                take()
                w = conjunction()
                v = True if v is True or w is True else (None if v is None or w is None else False)
            return v

        return disjunction()


def excluded_lines(toks, platform):
    """Lines (1-based) in `#if` branches that `platform` definitely does not compile."""
    condition, excluded, stack = Condition(platform), set(), []
    # stack entries: [this branch is definitely not taken, an earlier branch was definitely taken]
    line, directive_line = 1, False
    for kind, value, _ in toks:
        if kind == "newline":
            if any(frame[0] for frame in stack) and not directive_line:
                excluded.add(line)
            line, directive_line = line + 1, False
            continue
        if kind != "directive":
            continue
        directive_line = True
        directive, body = value
        if directive == "#if":
            v = condition.evaluate(body)
            stack.append([v is False, v is True])
        elif directive == "#elseif" and stack:
            v = condition.evaluate(body)
            frame = stack[-1]
            frame[0] = frame[1] or v is False
            frame[1] = frame[1] or v is True
        elif directive == "#else" and stack:
            frame = stack[-1]
            frame[0] = frame[1]
        elif directive == "#endif" and stack:
            stack.pop()
    return excluded


def available_spec(items):
    """{platform: version or INF} of an `#available(...)`/`@available(...)` argument list."""
    spec, parts = {}, [p.strip() for p in " ".join(items).split(",")]
    first = parts[0].split() if parts else []
    aliases = {"OSX": "macOS"}
    if len(first) == 1 and first[0] not in ("*",):  # long form: @available(iOS, unavailable)
        name = aliases.get(first[0], first[0])
        targets = PLATFORMS if name == "*" else (name,) if name in PLATFORMS else ()
        for part in parts[1:]:
            if part == "unavailable":
                for t in targets:
                    spec[t] = INF
            m = re.match(r"introduced\s*:\s*([0-9.]+)", part)
            if m:
                for t in targets:
                    spec[t] = parse_version(m.group(1))
        return spec
    if first == ["*"] and len(parts) > 1 and parts[1] == "unavailable":
        return {p: INF for p in PLATFORMS}
    for part in parts:
        words = part.split()
        if len(words) == 2 and aliases.get(words[0], words[0]) in PLATFORMS:
            v = parse_version(words[1])
            if v:
                spec[aliases.get(words[0], words[0])] = v
    return spec


def guard_intervals(toks):
    """[(start offset, end offset, {platform: version})] where those platform versions are
    guaranteed: #available blocks, the rest of a block after `guard #available`, the else block
    of `if #unavailable`, and declarations carrying @available."""
    # Only what Linux compiles shapes the braces (branches only Darwin compiles need not balance,
    # and the index has nothing in them).
    linux_out, live, line = excluded_lines(toks, "Linux"), [], 1
    for t in toks:
        if t[0] == "newline":
            line += 1
        elif t[0] != "directive" and line not in linux_out:
            live.append(t)
    end_of_file = live[-1][2] + 1 if live else 0

    intervals, braces = [], []
    depth = 0                 # ( and [ nesting
    statement = None          # if/while/guard whose condition is being read
    else_spec = None          # spec for the block after `else` (from `if #unavailable`)
    attribute = None          # @available waiting for the end of its declaration
    previous = None           # the previous token's text
    closed = None             # the block closed by the previous token, when it was `}`

    def end_attribute(at):
        nonlocal attribute
        intervals.append((attribute["offset"], at, attribute["spec"]))
        attribute = None

    i = 0
    while i < len(live):
        kind, value, offset = live[i]
        if kind == "newline":
            i += 1
            continue
        punct = kind == "punct"
        if kind in ("pound", "attr") and value in ("#available", "#unavailable", "@available") \
                and i + 1 < len(live) and live[i + 1][1] == "(":
            nesting, j, items = 0, i + 1, []
            while j < len(live):
                if live[j][1] == "(":
                    nesting += 1
                elif live[j][1] == ")":
                    nesting -= 1
                    if nesting == 0:
                        break
                if j > i + 1 and live[j][0] != "newline":
                    items.append(live[j][1])
                j += 1
            spec = available_spec(items)
            if value == "@available" and spec:
                attribute = {"offset": offset, "spec": spec, "level": len(braces), "declared": False}
            elif statement is not None and statement["depth"] == depth:
                key = "available" if value == "#available" else "unavailable"
                statement[key] = {**statement[key], **spec}
            previous, closed, i = ")", None, j + 1
            continue
        if kind == "ident" and value in ("if", "while", "guard") and \
                (statement is None or depth <= statement["depth"]):
            statement = {"kind": value, "depth": depth, "available": {}, "unavailable": {}}
        elif kind == "ident" and value in DECL_KEYWORDS and attribute is not None \
                and attribute["level"] == len(braces) and depth == 0:
            if attribute["declared"]:
                end_attribute(offset)  # the attributed declaration had no body
            else:
                attribute["declared"] = True
        elif punct and value in "([":
            depth += 1
        elif punct and value in ")]":
            depth = max(0, depth - 1)
        elif punct and value == ";" and attribute is not None and attribute["level"] == len(braces) and depth == 0:
            end_attribute(offset)
        elif punct and value == "{":
            block = {"open": offset, "spec": {}, "else_spec": None, "guard_after": None, "guards": [], "attribute": None}
            if statement is not None and depth == statement["depth"]:
                if statement["kind"] == "guard":
                    block["guard_after"] = statement["available"] or None  # this is the else block
                else:
                    block["spec"] = {**statement["available"], **(else_spec or {})}
                    block["else_spec"] = statement["unavailable"] or None
                statement, else_spec = None, None
            elif previous == "else" and else_spec:
                block["spec"], else_spec = else_spec, None
            if attribute is not None and attribute["level"] == len(braces) and depth == 0 and attribute["declared"]:
                block["attribute"], attribute = attribute, None
            braces.append(block)
        elif punct and value == "}" and braces:
            block = braces.pop()
            close = offset + 1
            if block["spec"]:
                intervals.append((block["open"], close, block["spec"]))
            for start, spec in block["guards"]:
                intervals.append((start, close, spec))
            if block["attribute"] is not None:
                intervals.append((block["attribute"]["offset"], close, block["attribute"]["spec"]))
            if block["guard_after"]:
                if braces:
                    braces[-1]["guards"].append((close, block["guard_after"]))
                else:
                    intervals.append((close, end_of_file, block["guard_after"]))
            if attribute is not None and attribute["level"] > len(braces):
                end_attribute(offset)
            previous, closed, i = "}", block, i + 1
            continue
        elif kind == "ident" and value == "else":
            if closed is not None and closed["else_spec"]:
                else_spec = closed["else_spec"]
        previous, closed = value, None
        i += 1
    for block in reversed(braces):  # unbalanced (a lexer gap): blocks end at the end of the file
        if block["spec"]:
            intervals.append((block["open"], end_of_file, block["spec"]))
        for start, spec in block["guards"]:
            intervals.append((start, end_of_file, spec))
        if block["attribute"] is not None:
            intervals.append((block["attribute"]["offset"], end_of_file, block["attribute"]["spec"]))
    if attribute is not None:
        end_attribute(end_of_file)
    return intervals


class SourceFile:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.text = f.read().decode("latin-1")  # one char per byte: index columns are bytes
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        toks = tokens(self.text)
        self.excluded = {p: excluded_lines(toks, p) for p in PLATFORMS}
        linux_out = excluded_lines(toks, "Linux")
        self.unchecked_lines = len(linux_out - (self.excluded["macOS"] & self.excluded["iOS"]))
        self.guards = guard_intervals(toks)

    def offset(self, line, column):
        return self.line_starts[line - 1] + column - 1 if line - 1 < len(self.line_starts) else len(self.text)

    def guaranteed(self, line, column):
        """{platform: version} that the scopes around (line, column) guarantee."""
        at, out = self.offset(line, column), {}
        for start, end, spec in self.guards:
            if start <= at < end:
                for p, v in spec.items():
                    out[p] = max(out.get(p, (0,)), v)
        return out


# MARK: the check

def in_scope(path):
    rel = os.path.relpath(path, ROOT)
    return rel.endswith(".swift") and rel.split(os.sep)[0] in SCOPE and not rel.startswith("..")


def scope_files():
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "--", *SCOPE]).split("\n")
    return sorted(os.path.join(ROOT, p) for p in listed if p.endswith(".swift") and os.path.exists(os.path.join(ROOT, p)))


def glibc_reason(usr, name, own_c_names):
    """What in a referenced declaration Darwin does not have, or None."""
    if usr in ("c:@M@Glibc", "c:@M@SwiftGlibc"):
        return "import Glibc: Darwin has no Glibc module"
    name = name.split("(")[0]  # a C function's Swift name carries labels: posix_fallocate(_:_:_:)
    if name in own_c_names:
        return None
    internal = "is Glibc-only (a glibc implementation name; Darwin's libc has none)"
    if usr.startswith("c:"):
        owners = [c for c in usr[2:].split("@") if re.match(r"__[A-Za-z]", c)]
        if owners:
            return f"{name} {internal}" if owners[0] == name else f"{name} (of glibc's {owners[0]}) {internal}"
        if name in GLIBC_ONLY:
            return f"{name} is Glibc-only [curated: a Linux-only libc name]"
    elif usr.startswith("s:So"):  # a Swift member of an imported C type: So<length><name>
        m = re.match(r"s:So(\d+)", usr)
        owner = usr[m.end():m.end() + int(m.group(1))] if m else ""
        if owner.startswith("__") and owner not in own_c_names:
            return f"{owner}.{name} {internal}"
    return None


def own_c_names():
    names = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "Sources")):
        for f in files:
            if f.endswith(".h"):
                with open(os.path.join(dirpath, f), errors="replace") as h:
                    names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", h.read()))
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the index the last build left")
    parser.add_argument("--unverified", action="store_true",
                        help="also list toolchain declarations in use that carry no availability data")
    args = parser.parse_args()
    started = time.monotonic()

    targets, undeclared = deployment_targets()
    if not args.no_build:
        build = subprocess.run(["swift", "build", "--build-tests", "--enable-index-store"], cwd=ROOT,
                               capture_output=True, text=True)
        if build.returncode != 0:
            sys.stderr.write(build.stdout[-4000:] + build.stderr[-4000:])
            raise CheckError("swift build --build-tests failed")
    bin_path = run(["swift", "build", "--show-bin-path"]).strip()
    store_path = os.path.join(bin_path, "index", "store")
    if not os.path.isdir(store_path):
        raise CheckError(f"no index store at {store_path}: run swift build --build-tests --enable-index-store")
    info = json.loads(run(["swiftc", "-print-target-info"]))
    resources = info["paths"]["runtimeResourcePath"]
    triple = info["target"]["triple"]
    module_dir = os.path.join(resources, info["target"]["platform"])
    library = os.path.join(os.path.dirname(resources), "libIndexStore.so")
    store = IndexStore(library, store_path)

    # Each in-scope file's newest unit and its record.
    newest = {}
    toolchain_modules = set(CORE_MODULES)
    for name in store.units():
        unit_file, modified, deps = store.unit(name)
        main_file = os.path.realpath(unit_file) if unit_file else ""
        if not main_file or not in_scope(main_file):
            continue
        for kind, path, _ in deps:
            if kind == DEPENDENCY_UNIT and path.startswith(resources + os.sep) and ".swiftmodule" in path:
                toolchain_modules.add(os.path.basename(path.split(".swiftmodule")[0]))
        record = next((n for k, p, n in deps if k == DEPENDENCY_RECORD and p == unit_file), None)
        if record and (main_file not in newest or newest[main_file][0] < modified):
            newest[main_file] = (modified, record)
    toolchain_modules = {m for m in toolchain_modules if os.path.isdir(os.path.join(module_dir, m + ".swiftmodule"))}

    files = scope_files()
    missing = [f for f in files if f not in newest]
    if missing:
        raise CheckError("not compiled by swift build --build-tests, so not checked:\n  "
                         + "\n  ".join(os.path.relpath(f, ROOT) for f in missing))
    stale = [f for f in files if os.path.getmtime(f) > newest[f][0] + 1]
    if stale:
        raise CheckError("the index is older than these files (run swift build --build-tests first):\n  "
                         + "\n  ".join(os.path.relpath(f, ROOT) for f in stale))

    toolchain = Toolchain(toolchain_modules, triple)
    c_names = own_c_names()
    declared = " / ".join(f"{p} {version_text(targets[p])}" for p in PLATFORMS)

    findings, unverified, resolved, twinned, unchecked_lines = set(), {}, 0, 0, 0
    for path in files:
        source = SourceFile(path)
        unchecked_lines += source.unchecked_lines
        rel = os.path.relpath(path, ROOT)
        for line, column, roles, usr, name in store.occurrences(newest[path][1]):
            if not roles & ROLE_REFERENCE or roles & (ROLE_DECLARATION | ROLE_DEFINITION):
                continue
            if name.startswith(("getter:", "setter:")):
                continue  # the property's own occurrence is on the same spot
            compiled_on = [p for p in PLATFORMS if line not in source.excluded[p]]
            if not compiled_on:
                continue
            glibc = glibc_reason(usr, name, c_names)
            if glibc:
                findings.add((rel, line, f"{glibc}; guard it with #if os(Linux) or #if canImport(Glibc)"))
                continue
            d = toolchain.by_usr.get(usr)
            if d is None:
                continue
            resolved += 1
            if not d.needs:
                unverified.setdefault(f"{d.module} {d.shown}", f"{rel}:{line}")
                continue
            guaranteed = source.guaranteed(line, column)
            floor = {p: max(targets[p], guaranteed.get(p, (0,))) for p in PLATFORMS}
            short = [p for p in compiled_on if d.needs.get(p, (0,)) > floor[p]]
            if not short:
                continue
            if toolchain.older_twin(d, floor, implicit=bool(roles & ROLE_IMPLICIT)):
                twinned += 1
                continue
            gone = [p for p in short if d.needs[p] == INF]
            if gone:
                findings.add((rel, line, f"{d.shown} is unavailable on {' and '.join(gone)} (declared {declared})"))
            else:
                wanted = " / ".join(f"{p} {version_text(d.needs[p]) if p in d.needs else 'any'}" for p in PLATFORMS)
                findings.add((rel, line, f"{d.shown} needs {wanted} (declared {declared})"))

    if resolved == 0:
        raise CheckError("no reference in the index resolved to a toolchain declaration: the index or the symbol graphs are not what this check understands")

    for rel, line, message in sorted(findings, key=lambda f: (f[0], f[1], f[2])):
        print(f"{rel}:{line}: {message}")
    if args.unverified:
        for key, where in sorted(unverified.items()):
            print(f"unverified: {key} (first use {where}) carries no availability data on this toolchain")
    elapsed = time.monotonic() - started
    notes = f"; {' and '.join(undeclared)} not declared in Package.swift, checked against the planned floor" if undeclared else ""
    summary = (f"{len(files)} files, {resolved} references to toolchain declarations checked against {declared}"
               f" ({twinned} resolve to an older overload on Apple; {len(unverified)} declarations in use carry"
               f" no availability data; {unchecked_lines} lines only Apple compiles are not checked){notes}; {elapsed:.1f} s")
    if findings:
        print(f"check-availability: {len(findings)} findings; {summary}", file=sys.stderr)
        return 1
    print(f"check-availability: no API newer than declared and no Glibc-only name; {summary}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"check-availability: error: {e}", file=sys.stderr)
        sys.exit(2)
    except subprocess.CalledProcessError as e:
        print(f"check-availability: error: {' '.join(e.cmd)} failed:\n{e.stderr}", file=sys.stderr)
        sys.exit(2)
