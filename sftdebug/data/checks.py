"""The `sftdebug data` checks: pure functions over per-row records (data/lint.py) and the template's
facts. Each check is `{id, status, count, message, examples, figures}` with status pass / warn / fail (or skip
when the template it needs is missing); any fail makes `sftdebug data` exit 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sftdebug.core.stats import percentiles

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
Record = dict[str, Any]
MAX_EXAMPLES = 5
BATCH = 8  # rows per batch for the padding-waste figure (a common per-device SFT batch size)

_CODE = re.compile(
    r"^\s*(def |class |import |from \S+ import |#include|public |function |const |let |var |SELECT |return\b)"
    r"|[;{]\s*$",
    re.M,
)
_MATH = re.compile(r"\$[^$\n]+\$|\\(frac|sqrt|sum|int|cdot|times)\b|\d+\s*[-+*/×÷^]\s*\d+\s*=")


def detect_domain(text: str) -> str:
    """A coarse domain guess for rows without a domain field: code, math or other."""
    if "```" in text or len(_CODE.findall(text)) >= 3:
        return "code"
    return "math" if _MATH.search(text) else "other"


def _check(cid: str, status: str, count: int, message: str, examples: Sequence[Record] = (), **figures: Any) -> Record:
    return {
        "id": cid,
        "status": status,
        "count": count,
        "message": message,
        "examples": list(examples)[:MAX_EXAMPLES],
        "figures": figures,
    }


def _examples(records: Sequence[Record], pick: Callable[[Record], Any], detail: Callable[[Record], str]) -> list:
    out = []
    for r in records:
        if pick(r):
            out.append({"row": r["key"], "detail": detail(r)})
            if len(out) == MAX_EXAMPLES:
                break
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _tokenized(records: Sequence[Record]) -> list[Record]:
    return [r for r in records if "tokens" in r]


def check_chat_template(records: Sequence[Record], facts: Record) -> Record:
    n = len(records)
    if not facts["has_template"]:
        return _check(
            "chat_template", FAIL, n, "the tokenizer has no chat template: training and inference cannot agree"
        )
    broken = [r for r in records if r.get("render_error")]
    mismatched = [r for r in records if r.get("mismatch")]
    if not broken and not mismatched:
        return _check(
            "chat_template", PASS, 0, f"renders all {n} rows; every prefix render is a token prefix of its row"
        )
    parts = []
    if broken:
        parts.append(f"{len(broken)} rows fail to render")
    for role, err in facts.get("unrenderable_roles", {}).items():
        parts.append(f"the template cannot render role {role!r} ({err})")
    if mismatched:
        parts.append(
            f"in {len(mismatched)} rows the generation prompt (or an earlier turn) is not a token prefix of the "
            "rendered conversation: inference prompts the model differently from how it was trained"
        )
    examples = _examples(broken + mismatched, bool, lambda r: r.get("render_error") or r["mismatch"])
    return _check("chat_template", FAIL, len(broken) + len(mismatched), "; ".join(parts), examples)


def check_special_tokens(records: Sequence[Record], facts: Record) -> Record:
    if not facts["has_template"]:
        return _check("special_tokens_atomic", SKIP, 0, "no chat template to take markers from")
    split = [m for m in facts["markers"] if len(m["pieces"]) != 1]
    names = ", ".join(m["marker"] for m in facts["markers"]) or "none"
    if not split:
        return _check("special_tokens_atomic", PASS, 0, f"every template marker is one token ({names})")
    roles = {m["role"] for m in split}
    every_row = bool(roles & {"user", "assistant"})  # every row has user and assistant turns
    hit = [r for r in records if every_row or roles & set(r["roles"])]
    desc = "; ".join(f"{m['marker']} ({m['role']} turns) is {len(m['pieces'])} pieces {m['pieces']}" for m in split)
    return _check(
        "special_tokens_atomic",
        FAIL,
        len(hit),
        f"{desc}: add each marker as a special token (and resize the embeddings) so the model sees one "
        "unambiguous role token",
        _examples(hit, bool, lambda r: f"uses {', '.join(sorted(roles & set(r['roles'])))} turns"),
    )


def check_eos(records: Sequence[Record], facts: Record) -> Record:
    if not facts["eos"]:
        return _check("eos_trained", FAIL, len(records), "the tokenizer has no eos token: a model cannot stop")
    eos = "/".join(facts["eos"])
    rows = _tokenized(records)
    missing = [r for r in rows if r["missing_eos_turns"]]
    problems = []
    if missing:
        turns = sum(len(r["missing_eos_turns"]) for r in missing)
        problems.append(
            f"{turns} trained turns in {len(missing)} rows end without {eos}: the model never learns to stop"
        )
    if facts["pad_is_eos"]:
        problems.append(
            f"the pad token is the eos ({facts['pad']}): harmless with a collator that masks the labels by position "
            "(completion-only / assistant-only loss, as sftdebug and TRL's SFTTrainer do), but a collator that sets "
            "the labels of every pad token to -100 (e.g. transformers' DataCollatorForLanguageModeling) masks every "
            "eos too and the model never learns to stop; a distinct pad token removes the risk"
        )
    turns = sum(r["n_answers"] for r in rows)
    if missing:
        detail = lambda r: f"turns {r['missing_eos_turns']} end without eos"  # noqa: E731
        return _check("eos_trained", FAIL, len(missing), "; ".join(problems), _examples(missing, bool, detail))
    if problems:  # pad == eos alone: a risk that depends on the collator, not a defect of the data
        return _check("eos_trained", WARN, len(rows), f"every trained turn has {eos} inside the loss; " + problems[0])
    return _check("eos_trained", PASS, 0, f"every trained turn has {eos} inside the loss ({turns} turns)")


def check_template_roles(records: Sequence[Record], facts: Record) -> Record:
    """What the template does by itself: a default system prompt (warn: every row trains under it) and a
    system prompt folded into the first user turn (noted)."""
    if not facts["has_template"] or "default_system_prompt" not in facts:
        return _check("template_roles", SKIP, 0, "no template that renders a user/assistant turn")
    notes = []
    if facts.get("system_folded_into_user"):
        notes.append("the template has no system role: a system prompt is folded into the first user turn")
    if "tool" in facts.get("unrenderable_roles", {}):
        notes.append("the template cannot render a tool role")
    injected = facts["default_system_prompt"]
    if injected:
        hit = [r for r in records if "system" not in r["roles"]]
        msg = (
            f"the template adds a default system prompt to every row without one ({injected[:80]!r}): "
            f"{len(hit)} rows train under it; if inference sends another system prompt, pass it in the data"
        )
        return _check(
            "template_roles", WARN, len(hit), "; ".join([msg, *notes]), _examples(hit, bool, lambda r: "no system turn")
        )
    return _check("template_roles", PASS, 0, "; ".join(notes) or "the template adds no text of its own to the turns")


def check_truncation(records: Sequence[Record], max_len: int) -> Record:
    rows = _tokenized(records)
    over = [r for r in rows if r["over_max"]]
    lost = [r for r in over if r["eos_lost"]]
    longest = max((r["tokens"] for r in rows), default=0)
    msg = (
        f"{len(over)} rows ({_pct(len(over) / max(len(rows), 1))}) are longer than --max-len {max_len} "
        f"(longest {longest} tokens); {len(lost)} lose their final eos to truncation"
    )
    status = FAIL if len(lost) > 0.01 * len(rows) else WARN if over else PASS
    if lost:
        msg += " and teach the model to run on"
    examples = _examples(over, bool, lambda r: f"{r['tokens']} tokens" + (", eos cut" if r["eos_lost"] else ""))
    return _check("truncation", status, len(over), msg, examples, n_over=len(over), n_eos_lost=len(lost))


def _dup_ratio(keys: Sequence[str]) -> float:
    return 1 - len(set(keys)) / len(keys) if keys else 0.0


def _most_repeated(records: Sequence[Record], key: str, text: str) -> list[Record]:
    counts = Counter(r[key] for r in records)
    first: dict[str, Record] = {}
    for r in records:
        first.setdefault(r[key], r)
    return [
        {"row": first[k]["key"], "detail": f"×{c}: {first[k][text][:120]}"} for k, c in counts.most_common(5) if c > 1
    ]


def check_prompt_duplication(records: Sequence[Record], train_on_prompt: bool) -> Record:
    exact = _dup_ratio([r["prompt_key"] for r in records])
    norm = _dup_ratio([r["prompt_norm_key"] for r in records])
    count = round(norm * len(records))
    msg = f"{_pct(exact)} of rows repeat an earlier prompt exactly, {_pct(norm)} after normalisation"
    status = PASS
    if norm > 0.1 and train_on_prompt:
        status = WARN
        msg += ": highly repeated prompts should stay masked (drop --train-on-prompt), or the model memorises them"
    elif norm > 0.1:
        msg += ": keep these prompts masked (the default)"
    elif norm < 0.02:
        msg += ": prompts are nearly unique, training on them (--train-on-prompt) is safe and adds signal"
    examples = _most_repeated(records, "prompt_norm_key", "prompt")
    return _check("prompt_duplication", status, count, msg, examples, exact=exact, normalized=norm)


def check_answer_duplication(records: Sequence[Record]) -> Record:
    exact = _dup_ratio([r["answer_key"] for r in records])
    norm = _dup_ratio([r["answer_norm_key"] for r in records])
    holes = [r for r in records if r["placeholders"]]
    msg = f"{_pct(exact)} of rows repeat an earlier answer exactly, {_pct(norm)} after normalisation"
    if holes:
        found = sorted({p for r in holes for p in r["placeholders"]})
        msg += f"; {len(holes)} rows have unfilled template placeholders ({', '.join(found[:5])}) the model would learn verbatim"
        examples = _examples(holes, bool, lambda r: f"{', '.join(r['placeholders'])} in: {r['answer'][:100]}")
        return _check("answer_duplication", FAIL, len(holes), msg, examples, exact=exact, normalized=norm)
    status = WARN if norm > 0.3 else PASS
    if status == WARN:
        most = max(Counter(r["answer_norm_key"] for r in records).values())
        msg += f" (the most repeated answer {most} times): the model learns canned answers"
    examples = _most_repeated(records, "answer_norm_key", "answer")
    return _check("answer_duplication", status, round(norm * len(records)), msg, examples, exact=exact, normalized=norm)


def check_empty_turns(records: Sequence[Record], loss_on: str) -> Record:
    def trained(r: Record, turns: list[int]) -> list[int]:
        return turns if loss_on == "all" else [t for t in turns if t == r["last_answer_turn"]]

    empty = [r for r in records if trained(r, r["empty_answer_turns"])]
    think = [r for r in records if trained(r, r["empty_think_turns"])]
    if not empty and not think:
        return _check("empty_turns", PASS, 0, "no empty assistant turns or empty <think></think> blocks are trained")
    parts = []
    if empty:
        parts.append(f"{len(empty)} rows train an empty assistant turn (the model learns to say nothing)")
    if think:
        parts.append(f"{len(think)} rows train an empty <think></think> block (the model learns to skip reasoning)")
    examples = _examples(
        empty + think, bool, lambda r: f"empty turns {r['empty_answer_turns'] or r['empty_think_turns']}"
    )
    return _check("empty_turns", FAIL if empty else WARN, len(empty) + len(think), "; ".join(parts), examples)


def check_length_stats(records: Sequence[Record], max_len: int) -> Record:
    rows = _tokenized(records)
    kept = [min(r["tokens"], max_len) for r in rows]
    total = sum(kept)
    share = sum(r["trained_kept"] for r in rows) / total if total else 0.0
    batches = [kept[i : i + BATCH] for i in range(0, len(kept), BATCH)]
    padded = sum(len(b) * max(b) for b in batches)
    pad_waste = 1 - total / padded if padded else 0.0
    pack_waste = 1 - total / (math.ceil(total / max_len) * max_len) if total else 0.0
    t = percentiles([r["tokens"] for r in rows])
    figures: dict[str, Any] = {
        "total": t,
        "prompt": percentiles([r["tokens"] - r["trained_all"] for r in rows]),
        "answer": percentiles([r["trained_all"] for r in rows]),
        "trained_token_share": share,
        "padding_waste": pad_waste,
        "packing_waste": pack_waste,
    }
    msg = (
        f"tokens per row p50 {t.get('p50')}, p90 {t.get('p90')}, max {t.get('max')}; {_pct(share)} of tokens are "
        f"trained; padding wastes {_pct(pad_waste)} of each batch of {BATCH} rows (file order), packing into "
        f"{max_len}-token blocks {_pct(pack_waste)}"
    )
    return _check("length_stats", PASS, len(rows), msg, **figures)


def check_multi_turn(records: Sequence[Record], loss_on: str) -> Record:
    rows = _tokenized(records)
    turns = Counter(r["n_answers"] for r in records)
    multi = sum(c for k, c in turns.items() if k > 1)
    all_t, last_t = sum(r["trained_all"] for r in rows), sum(r["trained_last"] for r in rows)
    msg = f"{multi} of {len(records)} rows have more than one assistant turn"
    if multi:
        msg += (
            f"; answer tokens trained with --loss-on all: {all_t}, with last: {last_t} "
            f"({_pct(last_t / all_t if all_t else 0)}); this run uses {loss_on}"
        )
    figures = {
        "answer_turns": {str(k): v for k, v in sorted(turns.items())},
        "trained_all": all_t,
        "trained_last": last_t,
    }
    return _check("multi_turn", PASS, multi, msg, **figures)


def check_domain(records: Sequence[Record], by_field: bool) -> Record:
    counts = Counter(r["domain"] for r in records)
    n = len(records)
    # The detector's "other" is everything else, not a domain: only code or math can dominate.
    ranked = [(d, c) for d, c in counts.most_common() if by_field or d != "other"]
    top, top_n = ranked[0] if ranked else ("other", 0)
    share = top_n / n if n else 0.0
    mix = ", ".join(f"{d} {_pct(c / n)}" for d, c in counts.most_common(6))
    msg = f"domains ({'field' if by_field else 'detected'}): {mix}"
    status = WARN if share > 0.5 else PASS
    if status == WARN:
        msg += (
            f"; {top} dominates ({_pct(share)}): teaching a domain's knowledge belongs to continued pretraining "
            "(mixed at ~10–20% with general data), SFT teaches format and behaviour"
        )
    return _check("domain_concentration", status, top_n, msg, largest=top, largest_share=share, shares=dict(counts))


def check_rows(
    n_rows: int, bad: Sequence[tuple[str, str]], unknown_roles: dict[str, int], max_bad_share: float = 0.05
) -> Record:
    """Malformed rows are left out and counted: a warning, or a failure above `max_bad_share` of the file
    (training on what is left would silently drop that much data)."""
    if not bad:
        return _check("rows", PASS, 0, f"all {n_rows} rows parsed")
    share = len(bad) / (n_rows + len(bad))
    msg = f"{len(bad)} of {n_rows + len(bad)} rows ({_pct(share)}) are malformed and left out"
    if unknown_roles:
        msg += f" (unknown roles: {', '.join(f'{k} ×{v}' for k, v in unknown_roles.items())})"
    status = FAIL if share > max_bad_share else WARN
    if status == FAIL:
        msg += f": over the {_pct(max_bad_share)} allowed by --max-bad-rows"
    return _check("rows", status, len(bad), msg, [{"row": w, "detail": why} for w, why in bad])


def run_checks(
    records: Sequence[Record],
    facts: Record,
    *,
    max_len: int,
    loss_on: str,
    train_on_prompt: bool,
    by_field: bool,
    bad: Sequence[tuple[str, str]] = (),
    unknown_roles: dict[str, int] | None = None,
    max_bad_share: float = 0.05,
) -> list[Record]:
    """Every check, in the order the report shows them."""
    return [
        check_rows(len(records), bad, unknown_roles or {}, max_bad_share),
        check_chat_template(records, facts),
        check_template_roles(records, facts),
        check_special_tokens(records, facts),
        check_eos(records, facts),
        check_truncation(records, max_len),
        check_prompt_duplication(records, train_on_prompt),
        check_answer_duplication(records),
        check_empty_turns(records, loss_on),
        check_length_stats(records, max_len),
        check_multi_turn(records, loss_on),
        check_domain(records, by_field),
    ]


def summarize(records: Sequence[Record], checks: Sequence[Record], n_bad: int) -> Record:
    by_id = {c["id"]: c for c in checks}
    statuses = Counter(c["status"] for c in checks)
    return {
        "n_rows": len(records),
        "n_bad_rows": n_bad,
        "status": FAIL if statuses[FAIL] else WARN if statuses[WARN] else PASS,
        "n_fail": statuses[FAIL],
        "n_warn": statuses[WARN],
        "checks": list(checks),
        "prompt_duplicate_ratio": by_id["prompt_duplication"]["figures"]["exact"],
        "prompt_duplicate_ratio_normalized": by_id["prompt_duplication"]["figures"]["normalized"],
        "answer_duplicate_ratio": by_id["answer_duplication"]["figures"]["exact"],
        "trained_token_share": by_id["length_stats"]["figures"]["trained_token_share"],
    }
