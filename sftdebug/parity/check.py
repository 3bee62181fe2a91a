"""The comparison behind `sftdebug parity` (the library call is `sftdebug.parity.run`, api.py).

For every row and every trained assistant turn, the trainer's prompt tokens (sftdata/encode.py) are compared with
the tokens the serving side builds from the same messages with the generation prompt, and the end-of-turn
token the answer was trained to end with is checked against the ids the serving side stops on.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdebug.core.errors import UsageError
from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import RunFolder
from sftdebug.parity.api import IDENTITY, ParityConfig, ParityResult
from sftdebug.parity.compare import KINDS, Difference, Side, compare_prompt, context
from sftdebug.parity.sides import ServeError, Serving, TrainTurn, hf_decoder, special_ids, train_turns
from sftdebug.sftdata.formats import Row

VIEWS_PER_TURN = 3  # differences per turn with a token view in the record


def _template(path: str | None) -> str | None:
    return None if path is None else Path(path).read_text(encoding="utf-8")


def load_tokenizer(name: str, template: str | None, trust_remote_code: bool, flag: str) -> tuple[Any, Path]:
    """A tokenizer folder (or hub id from the cache), its chat template replaced when `template` is given."""
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.engines.source import resolve_tokenizer

    quiet_libraries()
    from transformers import AutoTokenizer

    folder = resolve_tokenizer(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise UsageError(f"{flag} {name!r}: cannot load a tokenizer ({str(exc).splitlines()[0][:160]})") from exc
    if template is not None:
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(f"{flag} {name}: the tokenizer has no chat template; pass one with the template flag")
    return tokenizer, Path(folder)


def open_serving(config: ParityConfig, train_tokenizer: Any) -> Serving:
    """The serving side the config names (every failure to reach or read it is a one-line UsageError)."""
    if config.serve_gguf:
        from sftdebug.parity.gguf_side import GGUFServing

        return GGUFServing.open(
            Path(config.serve_gguf), _template(config.serve_template), config.gguf_engine, config.gguf_template
        )
    if config.endpoint:
        import os

        from sftdebug.engines.openai import check_endpoint
        from sftdebug.parity.endpoint_side import EndpointServing

        key = config.api_key or os.environ.get("OPENAI_API_KEY")
        return EndpointServing.open(
            check_endpoint(config.endpoint),
            str(config.model),
            api_key=key,
            tokenizer=train_tokenizer,
            timeout=config.timeout,
        )
    from sftdebug.parity.sides import TokenizerServing

    assert config.serve_tokenizer is not None, "validate() guarantees one serving side"
    tok, folder = load_tokenizer(
        config.serve_tokenizer, _template(config.serve_template), config.trust_remote_code, "--serve-tokenizer"
    )
    return TokenizerServing(tok, folder, config.serve_encoding)


@dataclass(frozen=True)
class Trainer:
    """The training tokenizer with what the comparison needs of it, computed once."""

    tokenizer: Any
    eos: dict[int, str]
    decode: Any
    special: frozenset[int]

    @classmethod
    def of(cls, tokenizer: Any, eos: dict[int, str]) -> Trainer:
        return cls(tokenizer, eos, hf_decoder(tokenizer), special_ids(tokenizer))

    def side(self, ids: Sequence[int]) -> Side:
        return Side(ids, self.decode, self.special, self.tokenizer.bos_token_id)


def _shown(diffs: Sequence[Difference]) -> list[Difference]:
    """The differences a record keeps a token view of: the first few, and the first of every kind."""
    firsts = {d.kind: d for d in reversed(diffs)}
    return [d for i, d in enumerate(diffs) if i < VIEWS_PER_TURN or firsts[d.kind] is d]


def _turn_record(
    turn: TrainTurn, messages: Sequence[dict[str, str]], serving: Serving, train: Trainer
) -> dict[str, Any]:
    rec: dict[str, Any] = {"turn": turn.turn, "train_tokens": len(turn.ids), "trained_end": turn.end_text}
    try:
        ids = serving.prompt(messages[: turn.turn])
    except ServeError as exc:
        return {**rec, "kinds": ["serve_error"], "error": str(exc)[:300]}
    a = train.side(turn.ids)
    b = serving.side(ids)
    diffs = compare_prompt(a, b, turn.layout)
    kinds = list(dict.fromkeys(d.kind for d in diffs))
    stops = None if turn.end_id is None else serving.stops_on(turn.end_id, turn.end_text or "", ids)
    if stops is False:
        kinds.append("stop_token_mismatch")
    rec.update(serve_tokens=len(ids), kinds=kinds, stops=stops, n_differences=len(diffs))
    if diffs:  # where the two prompts first part (the view below shows the tokens around it)
        rec["first_diff"] = {"train": diffs[0].train_pos, "serve": diffs[0].serve_pos}
    rec["differences"] = [
        {
            **dataclasses.asdict(d),
            "train_view": context(a, d.train_pos, d.train_len),
            "serve_view": context(b, d.serve_pos, d.serve_len),
        }
        for d in _shown(diffs)
    ]
    return rec


def compare_row(row: Row, train: Trainer, serving: Serving) -> dict[str, Any]:
    """One record: every trained turn of the row compared (see the module docstring)."""
    rec: dict[str, Any] = {"key": row.where, "n_messages": len(row.messages)}
    try:
        turns = train_turns(train.tokenizer, row.messages, train.eos, train.special)
    except Exception as exc:  # the training template cannot encode the row: the data lint's finding, not parity's
        return {**rec, "status": "skipped", "kinds": [], "reason": f"{type(exc).__name__}: {exc}"[:300]}
    rec["turns"] = [_turn_record(t, row.messages, serving, train) for t in turns]
    rec["kinds"] = list(dict.fromkeys(k for t in rec["turns"] for k in t["kinds"]))
    rec["status"] = "differs" if rec["kinds"] else "identical"
    return rec


def summarize(records: Sequence[dict[str, Any]], serving: Serving, show: int) -> dict[str, Any]:
    compared = [r for r in records if r["status"] != "skipped"]
    turns = [t for r in compared for t in r["turns"]]
    kinds = Counter(k for r in compared for k in r["kinds"])
    first: dict[str, list[str]] = {}
    for r in compared:
        for k in r["kinds"]:
            if len(first.setdefault(k, [])) < show:
                first[k].append(r["key"])
    ends = Counter(str(t.get("trained_end")) for t in turns if t.get("trained_end") is not None)
    return {
        "rows": len(compared),
        "rows_differing": sum(1 for r in compared if r["kinds"]),
        "rows_identical": sum(1 for r in compared if not r["kinds"]),
        "rows_skipped": len(records) - len(compared),
        "turns": len(turns),
        "turns_differing": sum(1 for t in turns if t["kinds"]),
        "kinds": {k: kinds[k] for k in KINDS if kinds[k]},
        "kinds_turns": {k: n for k in KINDS if (n := sum(1 for t in turns if k in t["kinds"]))},
        "first_rows": first,
        "trained_end_tokens": dict(ends),
        "stop_unknown_turns": sum(1 for t in turns if t.get("trained_end") is not None and t.get("stops") is None),
        "serving": serving.description,
        "serving_engine": getattr(serving, "engine", None)
        if isinstance(getattr(serving, "engine", None), str)
        else None,
        "notes": list(dict.fromkeys(serving.notes)),
        "skipped": [{"row": r["key"], "reason": r["reason"]} for r in records if r["status"] == "skipped"][:20],
    }


def run_parity(config: ParityConfig, progress: Progress = no_progress) -> ParityResult:
    """Compare every trained turn of `config.data` between the trainer and the serving side; write the run folder
    (`config.out`; default reports/parity/<time>) and its summary, not the report."""
    from sftdebug.core.runs import default_out
    from sftdebug.sftdata.encode import eos_ids
    from sftdebug.sftdata.formats import load_sft_file

    config.validate()
    data = load_sft_file(config.data, config.format)
    rows = data.rows[: config.limit] if config.limit else data.rows
    config = dataclasses.replace(config, out=config.out or default_out("parity"))
    out = str(config.out)
    RunFolder.precheck(out, config.resume, config.overwrite)
    train, folder = load_tokenizer(
        config.tokenizer, _template(config.template), config.trust_remote_code, "--tokenizer"
    )
    serving = open_serving(config, train)
    trainer = Trainer.of(train, eos_ids(train, folder))
    args = {k: v for k, v in dataclasses.asdict(config).items() if k != "api_key"}
    with RunFolder.open(
        out, "parity", args, resume=config.resume, overwrite=config.overwrite, identity=IDENTITY
    ) as run:

        def work(part: Sequence[Row]) -> list[dict[str, Any]]:
            return [compare_row(row, trainer, serving) for row in part]

        run_resumable(rows, lambda r: r.where, work, run, 50, progress, "rows")
        order = {r.where: i for i, r in enumerate(rows)}
        records = sorted((r for r in run.records() if r["key"] in order), key=lambda r: order[r["key"]])
        summary = {
            **summarize(records, serving, config.show),
            "format": data.format,
            "bad_rows": len(data.bad),
        }
        run.write_summary(summary)
    return ParityResult(Path(out), summary, rows=records)
