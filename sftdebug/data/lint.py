"""SFT data against the tokenizer and chat template training will use: one record per row (what the model
will be trained on, in numbers), and the template's own facts (role markers, eos, pad). The checks over these
are pure functions in data/checks.py.

    sftdebug data train.json --tokenizer path/to/sft-model --max-len 2048
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sftdebug.core.chat import render_chat
from sftdebug.core.loop import run_resumable
from sftdebug.core.progress import Progress, no_progress
from sftdebug.core.runs import RunFolder
from sftdebug.data.checks import detect_domain
from sftdebug.facts.match import normalize
from sftdebug.sftdata.encode import IGNORE, Encoded, LossOn, encode_conversation, token_ids
from sftdebug.sftdata.formats import Row

# Role and end-of-turn markers look like <|user|>, <start_of_turn>, </s>. [INST] is left out on purpose: some
# families (Llama 2) spell it in plain pieces by design.
MARKER = re.compile(r"<\|[^<>|\s]{1,40}\|>|</?[A-Za-z_][\w:.\-]{0,40}>")
PLACEHOLDER = re.compile(r"\{\{\s*[\w.\-]+\s*\}\}")
EMPTY_THINK = re.compile(r"<think>\s*</think>")
SENTINEL = "\u2063SFTDEBUG{}\u2063"  # invisible separator: never part of a template's own text


@dataclass(frozen=True)
class LintOptions:
    max_len: int = 2048
    loss_on: LossOn = "all"
    train_on_prompt: bool = False


def template_facts(tokenizer: Any, roles: Sequence[str], eos: dict[int, str]) -> dict[str, Any]:
    """What the template is made of: each angle-bracket marker around each role's turns and the pieces it
    tokenizes to, roles the template cannot render, and the eos/pad set-up."""
    pad = tokenizer.pad_token_id
    facts: dict[str, Any] = {
        "has_template": bool(getattr(tokenizer, "chat_template", None)),
        "eos": sorted(eos.values()),
        "pad": None if pad is None else str(tokenizer.pad_token),
        "pad_is_eos": pad is not None and int(pad) in eos,
        "markers": [],
        "unrenderable_roles": {},
    }
    if not facts["has_template"]:
        return facts
    convo = [{"role": "user"}, {"role": "assistant"}]
    for extra in ("system", "tool"):
        if extra in roles:
            trial = [{"role": "system"}, *convo] if extra == "system" else [*convo, {"role": "tool"}, convo[-1]]
            try:
                _render_with_sentinels(tokenizer, trial)
                convo = trial
            except Exception as exc:  # a template may refuse a role: that is the finding
                facts["unrenderable_roles"][extra] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        text = _render_with_sentinels(tokenizer, convo)
    except Exception as exc:  # every row will fail to render too: the chat_template check reports it
        facts["unrenderable_roles"]["user/assistant"] = f"{type(exc).__name__}: {exc}"[:200]
        return facts
    facts.update(_template_habits(tokenizer))
    seen = set()
    for i, piece in enumerate(re.split("\u2063SFTDEBUG\\d+\u2063", text)):
        role = convo[min(i, len(convo) - 1)]["role"]
        for marker in MARKER.findall(piece):
            if marker not in seen:
                seen.add(marker)
                pieces = tokenizer.convert_ids_to_tokens(token_ids(tokenizer, marker))
                facts["markers"].append({"marker": marker, "role": role, "pieces": [str(p) for p in pieces]})
    return facts


def _template_habits(tokenizer: Any) -> dict[str, Any]:
    """What a template does on its own: a default system prompt it adds to rows without one (SmolLM2's "You are
    a helpful AI assistant named SmolLM…"), and whether it folds a system prompt into the first user turn
    (Gemma has no system role)."""
    plain = _render_with_sentinels(tokenizer, [{"role": "user"}, {"role": "assistant"}])
    before_user = plain.split(SENTINEL.format(0), 1)[0]
    injected = None
    if "system" in before_user.lower():
        words = MARKER.sub(" ", before_user).replace("system", " ", 1)
        injected = " ".join(words.split()) or None
    folded = None
    try:
        sys_text = _render_with_sentinels(tokenizer, [{"role": "system"}, {"role": "user"}, {"role": "assistant"}])
        between = sys_text.split(SENTINEL.format(0), 1)[1].split(SENTINEL.format(1), 1)[0]
        folded = not MARKER.search(between) and "user" not in between.lower()
    except Exception:  # no system role at all: unrenderable_roles says so when the data has system turns
        pass
    return {"default_system_prompt": injected, "system_folded_into_user": folded}


def _render_with_sentinels(tokenizer: Any, convo: list[dict[str, str]]) -> str:
    messages = [{"role": m["role"], "content": SENTINEL.format(i)} for i, m in enumerate(convo)]
    return render_chat(tokenizer, messages, add_generation_prompt=False)


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def text_keys(prompt: str, answer: str) -> dict[str, Any]:
    """A row's prompt and answer, shortened for the report, and their duplication keys (exact and normalised)."""
    return {
        "prompt": prompt[-120:],
        "answer": answer[:120],
        "prompt_key": _key(prompt),
        "prompt_norm_key": _key(normalize(prompt)),
        "answer_key": _key(answer),
        "answer_norm_key": _key(normalize(answer)),
    }


def text_facts(row: Row) -> dict[str, Any]:
    """What a row's text says, without the tokenizer: duplication keys, placeholders, empty turns, domain."""
    msgs = row.messages
    last = max(k for k, m in enumerate(msgs) if m["role"] == "assistant")
    prompt = "\n".join(f"{m['role']}: {m['content']}" for m in msgs[:last])
    answer = msgs[last]["content"]
    answers = [m["content"] for m in msgs if m["role"] == "assistant"]
    return {
        "key": row.where,
        "roles": sorted({m["role"] for m in msgs}),
        "n_messages": len(msgs),
        "n_answers": len(answers),
        "last_answer_turn": last,
        **text_keys(prompt, answer),
        "placeholders": sorted({p for a in answers for p in PLACEHOLDER.findall(a)}),
        "empty_answer_turns": [k for k, m in enumerate(msgs) if m["role"] == "assistant" and not m["content"].strip()],
        "empty_think_turns": [
            k for k, m in enumerate(msgs) if m["role"] == "assistant" and EMPTY_THINK.search(m["content"])
        ],
        "domain": row.domain if row.domain is not None else detect_domain(prompt + "\n" + answer),
    }


def _last_trained_eos(enc: Encoded, start: int, end: int, eos: dict[int, str]) -> int | None:
    hits = [i for i in range(start, end) if enc.input_ids[i] in eos and enc.labels[i] != IGNORE]
    return hits[-1] if hits else None


def token_facts(enc: Encoded, eos: dict[int, str], opts: LintOptions) -> dict[str, Any]:
    """What training sees of a row: lengths, trained tokens, and whether each trained turn ends with eos."""
    answers = enc.answers
    spans = [s for s in answers if s.end > s.start and enc.labels[s.start] != IGNORE]
    # The end-of-turn token need not be a turn's last token: ChatML closes with <|im_end|> + "\n", Gemma with
    # <end_of_turn> + "\n". What matters is that it is inside the loss somewhere in the trained answer.
    ends = {s.turn: _last_trained_eos(enc, s.start, s.end, eos) for s in spans}
    missing = [turn for turn, end in ends.items() if end is None]
    last_eos = max((end for end in ends.values() if end is not None), default=None)
    n = len(enc.input_ids)
    return {
        "tokens": n,
        "trained": enc.trained_tokens,
        "trained_kept": sum(1 for t in enc.labels[: opts.max_len] if t != IGNORE),
        "trained_all": sum(s.end - s.start for s in answers),
        "trained_last": answers[-1].end - answers[-1].start if answers else 0,
        "missing_eos_turns": missing,
        "over_max": n > opts.max_len,
        "eos_lost": last_eos is not None and last_eos >= opts.max_len,
        "mismatch": enc.mismatch,
    }


def token_view(tokenizer: Any, enc: Encoded, eos: dict[int, str]) -> list[dict[str, Any]]:
    """Every token of a row with its text, role (`template` for a generation prompt) and loss mask. Byte-level
    pieces of one multi-byte character are shown together as one entry with `n` > 1 (alone they are no text)."""
    role_of = {}
    for s in enc.segments:
        for pos in range(s.start, s.end):
            role_of[pos] = "template" if s.part == "prompt" else s.role
    out: list[dict[str, Any]] = []
    pos, ids = 0, enc.input_ids
    while pos < len(ids):
        n = 1
        text = tokenizer.decode(ids[pos : pos + n], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        while "\ufffd" in text and n < 4 and pos + n < len(ids):
            n += 1
            text = tokenizer.decode(ids[pos : pos + n], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if "\ufffd" in text:  # not a character after all: show the raw token
            n, text = 1, str(tokenizer.convert_ids_to_tokens(ids[pos]))
        trained = enc.labels[pos] != IGNORE
        out.append(
            {"text": text, "role": role_of.get(pos, "template"), "trained": trained, "eos": ids[pos] in eos, "n": n}
        )
        pos += n
    return out


def lint_row(tokenizer: Any, row: Row, eos: dict[int, str], opts: LintOptions, view: bool) -> dict[str, Any]:
    """One record: the row's text facts and, when the template renders it, its token facts."""
    rec = text_facts(row)
    try:
        enc = encode_conversation(tokenizer, row.messages, opts.loss_on, opts.train_on_prompt)
    except Exception as exc:  # a template that raises on this row is exactly what the chat_template check reports
        rec["render_error"] = f"{type(exc).__name__}: {exc}"[:300]
        return rec
    rec.update(token_facts(enc, eos, opts))
    if view:
        rec["token_view"] = token_view(tokenizer, enc, eos)
    return rec


def lint_rows(
    tokenizer: Any,
    rows: Sequence[Row],
    eos: dict[int, str],
    opts: LintOptions,
    journal: RunFolder,
    show: int = 3,
    progress: Progress = no_progress,
) -> list[dict[str, Any]]:
    """A record per row, appended to `journal` in chunks (a resumed run skips the rows already done); the
    first `show` rows carry their token view."""
    numbered = list(enumerate(rows))

    def work(part: Sequence[tuple[int, Row]]) -> list[dict[str, Any]]:
        return [lint_row(tokenizer, row, eos, opts, view=i < show) for i, row in part]

    run_resumable(numbered, lambda ir: ir[1].where, work, journal, 500, progress, "rows")
    order = {row.where: i for i, row in enumerate(rows)}
    return sorted((r for r in journal.records() if r["key"] in order), key=lambda r: order[r["key"]])
