"""Read the pipeline's Nextflow modules and configs from Python, for tests that hold them to the CLI.

Only the small, regular subset of Groovy that ``modules/local/*/main.nf`` uses is understood:
a ``script:`` section made of ``def NAME = task.ext.args ?: ''`` and ``def NAME = VAR ? "..." : ''`` lines
followed by one triple-quoted command, ``${...}`` interpolation of names, ``meta.id``, ``params.x`` and
``task.process``, ``task.cpus`` (2 here), and ``path(...)`` output patterns. Anything else raises, so a module that drifts from that
subset fails the tests loudly instead of being rendered wrong.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES_DIR = ROOT / "modules" / "local"


@dataclass(frozen=True)
class Output:
    emit: str
    patterns: tuple[str, ...]
    optional: bool


@dataclass
class Module:
    path: Path
    process: str
    label: str
    input_lines: list[str]
    outputs: list[Output]
    defs: list[tuple[str, str]]  # (name, groovy expression)
    template: str
    stub: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """``PBF_QC`` -> ``qc``; ``MULTIQC`` -> ``multiqc``."""
        return self.process.lower().removeprefix("pbf_")


def _section(lines: list[str], name: str, stops: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    inside = False
    for line in lines:
        s = line.strip()
        if s == f"{name}:":
            inside = True
            continue
        if inside and s.endswith(":") and s[:-1] in stops:
            break
        if inside:
            out.append(line)
    return out


def _triple_quoted(lines: list[str]) -> tuple[list[str], str]:
    """Split a section into the lines before its first ``\"\"\"`` block and the block's text."""
    text = "\n".join(lines)
    start = text.index('"""')
    end = text.index('"""', start + 3)
    head = text[:start].splitlines()
    return head, text[start + 3 : end]


SECTIONS = ("input", "output", "when", "script", "stub", "exec", "shell")


def parse_module(path: Path) -> Module:
    text = path.read_text()
    m = re.search(r"^process\s+(\w+)\s*\{", text, re.M)
    if not m:
        raise ValueError(f"{path}: no process")
    lines = text.splitlines()
    directives = {}
    for line in lines:
        d = re.match(r"^\s{4}(tag|label|conda|container)\s+(.+)$", line)
        if d:
            directives[d.group(1)] = d.group(2).strip()
    outputs = []
    for line in _section(lines, "output", SECTIONS):
        s = line.strip()
        if not s or s.startswith("//"):
            continue
        emit = re.search(r"emit:\s*(\w+)", s)
        pats = re.findall(r"path\(?\s*[\"']([^\"']+)[\"']", s)
        if not emit or not pats:
            raise ValueError(f"{path}: output line not understood: {s}")
        outputs.append(Output(emit.group(1), tuple(pats), "optional: true" in s))
    head, template = _triple_quoted(_section(lines, "script", SECTIONS))
    defs = []
    for line in head:
        s = line.strip()
        if not s or s.startswith("//"):
            continue
        d = re.match(r"^def\s+(\w+)\s*=\s*(.+)$", s)
        if not d:
            raise ValueError(f"{path}: script line not understood: {s}")
        defs.append((d.group(1), d.group(2).strip()))
    _, stub = _triple_quoted(_section(lines, "stub", SECTIONS))
    return Module(
        path=path,
        process=m.group(1),
        label=directives.get("label", "").strip("'\""),
        input_lines=[s.strip() for s in _section(lines, "input", SECTIONS) if s.strip()],
        outputs=outputs,
        defs=defs,
        template=template,
        stub=stub,
        directives=directives,
    )


def discover_modules() -> list[Module]:
    return [parse_module(p) for p in sorted(MODULES_DIR.glob("*/main.nf"))]


# ------------------------------------------------------------------------------------------ rendering


def _lookup(expr: str, env: dict) -> object:
    expr = expr.strip()
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", expr):
        raise ValueError(f"cannot render expression ${{{expr}}}")
    head, *rest = expr.split(".")
    if head not in env:
        raise KeyError(f"no value for ${{{expr}}}")
    value = env[head]
    for attr in rest:
        value = value[attr] if isinstance(value, dict) else getattr(value, attr)
    return value


def _as_groovy_string(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):  # a staged file collection renders blank-separated
        return " ".join(_as_groovy_string(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(template: str, env: dict) -> str:
    """Evaluate a Groovy double/triple-quoted string body: escapes and ``${...}`` placeholders."""
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template) and template[i + 1] in "\\$\"'":
            out.append(template[i + 1])
            i += 2
        elif c == "$" and template.startswith("${", i):
            end = template.index("}", i)
            out.append(_as_groovy_string(_lookup(template[i + 2 : end], env)))
            i = end + 1
        elif c == "$" and i + 1 < len(template) and (template[i + 1].isalpha() or template[i + 1] == "_"):
            raise ValueError(f"bare ${template[i : i + 20]!r}: use ${{...}} in modules")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _truthy(value: object) -> bool:
    return bool(value) and value != []


def evaluate_def(expr: str, env: dict, ext_args: str) -> str:
    if re.fullmatch(r"task\.ext\.args\s*\?:\s*''", expr):
        return ext_args
    cond = re.fullmatch(r"(\w+)\s*\?\s*\"(.*)\"\s*:\s*''", expr)
    if cond:
        return interpolate(cond.group(2), env) if _truthy(env.get(cond.group(1))) else ""
    raise ValueError(f"def expression not understood: {expr}")


def render_script(module: Module, env: dict, ext_args: str = "") -> str:
    """The bash command Nextflow would run for ``module`` with inputs ``env`` and ``task.ext.args``."""
    env = dict(env)
    env.setdefault("task", {"process": module.process, "cpus": 2, "ext": {"args": ext_args}})
    for name, expr in module.defs:
        env[name] = evaluate_def(expr, env, ext_args)
    return textwrap.dedent(interpolate(module.template, env)).strip() + "\n"


def render_outputs(module: Module, env: dict) -> list[tuple[Output, list[str]]]:
    return [(o, [interpolate(p, env) for p in o.patterns]) for o in module.outputs]


def shell_words(script: str) -> list[str]:
    """The words of a rendered command (line continuations joined), for flag comparisons."""
    return shlex.split(script.replace("\\\n", " "), comments=True)


# ------------------------------------------------------------------------------------------ configs


def _per_process(config: Path, pattern: str) -> dict[str, str]:
    """First group of ``pattern`` on lines inside each ``withName: 'X' { ... }`` block, by process name."""
    out = {}
    current = None
    for line in config.read_text().splitlines():
        w = re.match(r"\s*withName:\s*['\"]([\w:]+)['\"]", line)
        if w:
            current = w.group(1)
        m = re.match(pattern, line)
        if m and current:
            out[current] = m.group(1)
    return out


def ext_args_literals(config: Path) -> dict[str, str]:
    """``withName: 'X' { ext.args = '...' }`` entries whose value is a plain string literal."""
    return _per_process(config, r"\s*ext\.args\s*=\s*'([^']*)'\s*$")


def publish_paths(config: Path) -> dict[str, str]:
    """``withName: 'X' { publishDir = [ path: { "..." } ] }`` -> the path template."""
    return _per_process(config, r"\s*path:\s*\{\s*\"([^\"]+)\"\s*\}")


def config_params(config: Path) -> dict[str, object]:
    """The ``params { }`` block of nextflow.config: name -> default (null/bool/int/str; other values as None)."""
    text = config.read_text()
    m = re.search(r"^params\s*\{(.*?)^\}", text, re.M | re.S)
    if not m:
        raise ValueError(f"{config}: no params block")
    out: dict[str, object] = {}
    for line in m.group(1).splitlines():
        s = line.split("//")[0].strip()
        kv = re.match(r"^(\w+)\s*=\s*(.+)$", s)
        if not kv:
            continue
        name, raw = kv.group(1), kv.group(2).strip()
        if raw == "null":
            value: object = None
        elif raw in ("true", "false"):
            value = raw == "true"
        elif re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        elif re.fullmatch(r"'[^']*'|\"[^\"]*\"", raw):
            value = raw[1:-1]
        else:
            value = None  # computed at run time (e.g. a date)
        out[name] = value
    return out
