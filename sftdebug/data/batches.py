"""The batches a trainer really builds, checked like a data file: `sftdebug data` re-encodes a file the way a
correct trainer would, so it cannot see a collator that masks the eos (pad == eos with a pad-masking collator),
trains the prompt, or cuts answers by truncation. Here the input is the collator's own output — input ids and
labels — and every row is turned back into the `Encoded` form the data lint reads (answers located by the chat
template's generation prompt, each running to its end-of-turn token), so the same checks, ids, messages and
report apply, plus two only batches can show: prompt tokens inside the loss, and rows with nothing trained.

    records = batch_records(tokenizer, batches, eos)          # batches: dicts of input_ids, labels, attention_mask
    checks = batch_checks(records, template_facts(tokenizer, ["user", "assistant"], eos))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sftdebug.core.chat import render_chat
from sftdebug.data.checks import FAIL, PASS, SKIP, WARN, Record, _check, _examples, _pct, detect_domain, run_checks
from sftdebug.data.lint import LintOptions, text_keys, token_facts, token_view
from sftdebug.sftdata.encode import IGNORE, Encoded, Segment, token_ids

BATCH_ONLY = ("prompt_trained", "nothing_trained")


def assistant_header(tokenizer: Any) -> list[int]:
    """The token ids the template puts before every answer (its generation prompt: "<|im_start|>assistant\\n")."""
    convo = [{"role": "user", "content": "\u2063"}]
    with_prompt = render_chat(tokenizer, convo, add_generation_prompt=True)
    without = render_chat(tokenizer, convo, add_generation_prompt=False)
    header = with_prompt[len(without) :] if with_prompt.startswith(without) else ""
    return token_ids(tokenizer, header) if header else []


def _find(ids: Sequence[int], pattern: Sequence[int]) -> list[int]:
    n = len(pattern)
    return [i for i in range(len(ids) - n + 1) if list(ids[i : i + n]) == list(pattern)] if n else []


def _as_list(value: Any) -> list[list[int]]:
    return value.tolist() if hasattr(value, "tolist") else [list(v) for v in value]


def encode_row(ids: Sequence[int], labels: Sequence[int], header: Sequence[int], eos: Mapping[int, str]) -> Encoded:
    """A collated row as the data lint's `Encoded`: each answer from the end of an assistant header to its first
    end-of-turn token (inclusive; to the row's end when truncation cut it), the header as the generation
    prompt, everything else one prompt message."""
    segments, pos, k = [], 0, -1
    for k, start in enumerate(_find(ids, header)):
        if start < pos:
            continue
        body = start + len(header)
        end = next((i + 1 for i in range(body, len(ids)) if ids[i] in eos), len(ids))
        if start > pos:
            segments.append(Segment(pos, start, "user", 2 * k, "message"))
        segments += [Segment(start, body, "assistant", 2 * k + 1, "prompt"), Segment(body, end, "assistant", 2 * k + 1, "answer")]  # fmt: skip
        pos = end
    if pos < len(ids):
        segments.append(Segment(pos, len(ids), "user", 2 * (k + 1), "message"))
    return Encoded([int(i) for i in ids], [int(t) for t in labels], segments)


def row_record(
    tokenizer: Any, key: str, enc: Encoded, eos: Mapping[int, str], pad_id: int | None, view: bool
) -> Record:
    """One collated row in the data lint's record shape (text facts + token facts), with what only batches show:
    prompt tokens in the loss, answers cut before their end-of-turn, eos masked as padding."""
    answers = enc.answers
    n = len(enc.input_ids)
    cut = [s.turn for s in answers if s.end == n and enc.input_ids[n - 1] not in eos]
    facts = token_facts(enc, dict(eos), LintOptions(max_len=n))
    in_answer = {i for s in answers for i in range(s.start, s.end)}
    prompt_trained = sum(1 for i, t in enumerate(enc.labels) if t != IGNORE and i not in in_answer)
    masked_ends = [s for s in answers if s.turn in facts["missing_eos_turns"] and s.turn not in cut]
    decode = lambda a, b: str(tokenizer.decode(enc.input_ids[a:b], skip_special_tokens=True))  # noqa: E731
    last = answers[-1] if answers else None
    prompt = decode(0, last.start) if last else decode(0, n)
    answer = decode(last.start, last.end) if last else ""
    return {
        "key": key,
        "roles": ["assistant", "user"] if answers else ["user"],
        "n_messages": 2 * len(answers),
        "n_answers": len(answers),
        "last_answer_turn": last.turn if last else 0,
        **text_keys(prompt, answer),
        "placeholders": [],
        "empty_answer_turns": [s.turn for s in answers if not decode(s.start, s.end).strip()],
        "empty_think_turns": [],
        "domain": detect_domain(prompt + "\n" + answer),
        **facts,
        "missing_eos_turns": [t for t in facts["missing_eos_turns"] if t not in cut],
        "over_max": bool(cut),
        "eos_lost": bool(cut),
        "prompt_tokens": n - len(in_answer),
        "prompt_trained": prompt_trained,
        "answers_trained": sum(1 for s in answers if s.end > s.start and enc.labels[s.start] != IGNORE),
        "eos_masked_as_pad": pad_id is not None and any(enc.input_ids[s.end - 1] == pad_id for s in masked_ends),
        **({"token_view": token_view(tokenizer, enc, dict(eos))} if view else {}),
    }


def batch_records(
    tokenizer: Any, batches: Iterable[Mapping[str, Any]], eos: Mapping[int, str], show: int = 3
) -> list[Record]:
    """A record per row of the collator's batches (`input_ids`, `labels`, and `attention_mask` when there is
    padding); the first `show` rows carry their token view."""
    from sftdebug.core.errors import UsageError

    header = assistant_header(tokenizer)
    pad_id = tokenizer.pad_token_id
    records: list[Record] = []
    for b, batch in enumerate(batches):
        if "labels" not in batch or "input_ids" not in batch:
            raise UsageError(f"batch {b}: the collator made no 'labels' (keys: {', '.join(batch)})")
        ids, labels = _as_list(batch["input_ids"]), _as_list(batch["labels"])
        mask = _as_list(batch["attention_mask"]) if batch.get("attention_mask") is not None else None
        for r, (row_ids, row_labels) in enumerate(zip(ids, labels, strict=True)):
            keep = [i for i in range(len(row_ids)) if mask is None or mask[r][i]]
            enc = encode_row([row_ids[i] for i in keep], [row_labels[i] for i in keep], header, eos)
            records.append(row_record(tokenizer, f"batch {b} row {r}", enc, eos, pad_id, len(records) < show))
    return records


def observed_policy(records: Sequence[Record]) -> tuple[str, bool]:
    """The loss policy the batches show: `last` when multi-turn rows train only their last answer, and whether
    most prompt tokens are trained."""
    multi = [r for r in records if r["n_answers"] > 1]
    loss_on = "last" if multi and all(r["answers_trained"] <= 1 for r in multi) else "all"
    prompt = sum(r["prompt_tokens"] for r in records)
    return loss_on, sum(r["prompt_trained"] for r in records) > prompt / 2


def batch_checks(records: Sequence[Record], facts: Record) -> list[Record]:
    """The data lint's checks over collated rows (the loss policy and prompt masking as the batches show them,
    truncation at the collator's own length), the eos check naming a pad-masking collator, and the checks only
    batches can make."""
    loss_on, train_on_prompt = observed_policy(records)
    prompt_tokens = sum(r["prompt_tokens"] for r in records)
    trained_prompt = sum(r["prompt_trained"] for r in records)
    longest = max((r["tokens"] for r in records), default=1)
    checks = run_checks(
        records, facts, max_len=longest, loss_on=loss_on, train_on_prompt=train_on_prompt, by_field=False
    )
    by_id = {c["id"]: c for c in checks}
    if not any(r["n_answers"] for r in records):
        by_id["chat_template"] = _check(
            "chat_template",
            FAIL,
            len(records),
            "no batch row holds the tokenizer's assistant header: the collator formats conversations with "
            "another template than the one inference uses (or the rows are not chat)",
        )
    by_id["eos_trained"] = _eos_check(records, facts, by_id["eos_trained"])
    by_id["truncation"] = _truncation_check(records, longest)
    checks = [by_id[c["id"]] for c in checks]
    return [*checks, _prompt_check(records, trained_prompt, prompt_tokens), _nothing_check(records)]


def _eos_check(records: Sequence[Record], facts: Record, found: Record) -> Record:
    pad_masked = [r for r in records if r["eos_masked_as_pad"]]
    if found["status"] != FAIL or not pad_masked:
        return found
    return _check(
        "eos_trained",
        FAIL,
        found["count"],
        f"the pad token is the eos ({facts['pad']}) and the collator sets the label of every pad token to -100: "
        f"the eos closing each answer is masked in {len(pad_masked)} rows and the model never learns to stop "
        "(e.g. transformers' DataCollatorForLanguageModeling); use a distinct pad token or a completion-only "
        "collator (TRL's SFTTrainer)",
        _examples(pad_masked, bool, lambda r: f"turns {r['missing_eos_turns']}: eos label -100"),
    )


def _truncation_check(records: Sequence[Record], longest: int) -> Record:
    cut = [r for r in records if r["eos_lost"]]
    msg = (
        f"{len(cut)} of {len(records)} rows ({_pct(len(cut) / max(len(records), 1))}) end inside an answer: the "
        f"collator cut them (longest row {longest} tokens) and their eos is never trained"
    )
    status = FAIL if len(cut) > 0.01 * len(records) else WARN if cut else PASS
    if not cut:
        msg = f"every answer ends with its end-of-turn token inside the row (longest row {longest} tokens)"
    examples = _examples(cut, bool, lambda r: f"{r['tokens']} tokens, answer cut")
    return _check("truncation", status, len(cut), msg, examples, n_over=len(cut), n_eos_lost=len(cut))


def _prompt_check(records: Sequence[Record], trained: int, total: int) -> Record:
    hit = [r for r in records if r["prompt_trained"]]
    if not trained:
        return _check("prompt_trained", PASS, 0, f"every prompt token is masked ({total} prompt tokens)")
    msg = (
        f"{trained} of {total} prompt tokens ({_pct(trained / max(total, 1))}) are inside the loss in {len(hit)} rows: "
        "the model is trained to write the user's turns (see prompt_duplication for how repeated they are)"
    )
    return _check(
        "prompt_trained", WARN, len(hit), msg, _examples(hit, bool, lambda r: f"{r['prompt_trained']} prompt tokens")
    )


def _nothing_check(records: Sequence[Record]) -> Record:
    empty = [r for r in records if not r["trained"]]
    if not records:
        return _check("nothing_trained", SKIP, 0, "no rows")
    if not empty:
        return _check("nothing_trained", PASS, 0, f"every one of {len(records)} rows has trained tokens")
    msg = f"{len(empty)} rows have no token inside the loss: they cost compute and teach nothing"
    return _check("nothing_trained", WARN, len(empty), msg, _examples(empty, bool, lambda r: f"{r['tokens']} tokens"))
