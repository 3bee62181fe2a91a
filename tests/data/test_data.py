"""`sftdebug data`: formats, the checks on real data, and planted defects that each trip exactly their check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sftdebug.cli import main
from sftdebug.core.errors import UsageError
from sftdebug.core.runs import read_records, read_summary
from sftdebug.data.checks import detect_domain
from sftdebug.sftdata.formats import load_sft_file

# shared/realdata beside the checkout (CI, /work/main), or beside an ancestor (a worktree under /work/wt)
REALDATA = next(
    (p / "shared" / "realdata" for p in Path(__file__).resolve().parents[3:] if (p / "shared" / "realdata").is_dir()),
    Path(__file__).resolve().parents[3] / "shared" / "realdata",
)
ANIMALS = ["fox", "owl", "hare", "wolf", "bear", "crow", "deer", "lynx"]
PLACES = ["river", "forest", "valley", "meadow", "harbour"]


def write(path: Path, rows: list, jsonl: bool = True) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows) if jsonl else json.dumps(rows)
    path.write_text(text, encoding="utf-8")
    return path


def clean_rows() -> list[dict]:
    """40 unique, short, plain-prose conversations: every check passes on them."""
    rows = []
    for i, (animal, place) in enumerate((a, p) for a in ANIMALS for p in PLACES):
        q = f"Where does the {animal} of the {place} sleep?"
        a = f"The {animal} of the {place} sleeps under the old {ANIMALS[(i + 3) % 8]} stone."
        rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    return rows


# --- formats ---------------------------------------------------------------------------------------------


def test_formats_map_to_the_same_conversation(tmp_path: Path) -> None:
    want = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi\nthere"}]
    want.append({"role": "assistant", "content": "Hello."})
    alpaca = write(
        tmp_path / "a.json", [{"system": "Be brief.", "instruction": "Hi", "input": "there", "output": "Hello."}], False
    )
    share = write(
        tmp_path / "s.jsonl",
        [
            {
                "system": "Be brief.",
                "conversations": [{"from": "human", "value": "Hi\nthere"}, {"from": "gpt", "value": "Hello."}],
            }
        ],
    )
    msgs = write(tmp_path / "m.jsonl", [{"messages": want}])
    for path, fmt in ((alpaca, "alpaca"), (share, "sharegpt"), (msgs, "messages")):
        data = load_sft_file(path)
        assert (data.format, data.rows[0].messages, data.bad) == (fmt, want, []), path


def test_alpaca_history_becomes_earlier_turns(tmp_path: Path) -> None:
    row = {"instruction": "And 3?", "input": "", "output": "Odd.", "history": [["Is 2 even?", "Yes."]]}
    data = load_sft_file(write(tmp_path / "h.jsonl", [row]))
    assert [m["role"] for m in data.rows[0].messages] == ["user", "assistant", "user", "assistant"]


def test_bad_rows_are_counted_with_file_and_row(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": "only a prompt"}]},
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "b"}]},
    ]
    path = write(tmp_path / "d.jsonl", rows)
    with path.open("a") as fh:
        fh.write("{not json\n")
    data = load_sft_file(path)
    assert len(data.rows) == 1
    assert [(b.where, b.reason.split(":")[0]) for b in data.bad] == [
        (f"{path}:2", "no assistant turn to train on"),
        (f"{path}:3", "messages[0]"),
        (f"{path}:4", "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
    ]
    assert data.unknown_roles == {"wizard": 1}


def test_unknown_format_and_empty_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot tell the data format"):
        load_sft_file(write(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}]))
    with pytest.raises(UsageError, match="no usable SFT rows"):
        load_sft_file(write(tmp_path / "y.jsonl", [{"messages": [{"role": "user", "content": "q"}]}]))


def test_sharegpt_tool_roles_are_mapped() -> None:
    data = load_sft_file(REALDATA / "glaive_toolcall_en_demo.json")
    assert data.format == "sharegpt" and not data.bad and not data.unknown_roles
    raw = json.loads((REALDATA / "glaive_toolcall_en_demo.json").read_text(encoding="utf-8"))
    said = [t["from"] for r in raw for t in r["conversations"]]
    roles = [m["role"] for r in data.rows for m in r.messages]
    assert roles.count("assistant") == said.count("gpt") + said.count("function_call") > said.count("gpt")
    assert roles.count("tool") == said.count("observation") > 0


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("```python\nprint(1)\n```", "code"),
        ("def f(x):\n    return x\nimport os\n", "code"),
        ("Solve: 12 + 30 = 42, so x is 42.", "math"),
        ("Use $\\frac{a}{b}$ here.", "math"),
        ('{"name": "search", "arguments": {"q": "x"}}', "other"),
        ("The fox sleeps by the river.", "other"),
    ],
)
def test_domain_detector(text: str, domain: str) -> None:
    assert detect_domain(text) == domain


# --- the command on the lab's SFT tokenizer --------------------------------------------------------------


def lint(tmp_path: Path, file: Path, tokenizer: Path, *flags: str) -> tuple[int, dict, dict]:
    out = tmp_path / f"run-{file.stem}-{len(list(tmp_path.glob('run-*')))}"
    code = main(["data", str(file), "--tokenizer", str(tokenizer), "--out", str(out), *flags])
    summary = read_summary(out)
    return code, summary, {c["id"]: c for c in summary["checks"]}


def not_passing(checks: dict) -> set[str]:
    return {k for k, c in checks.items() if c["status"] != "pass"}


@pytest.fixture(scope="module")
def tok(lab: Path) -> Path:
    return lab / "sft-healthy"


def tokenizer_copy(tmp_path: Path, tok: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"):
        shutil.copy(tok / f, folder / f)
    return folder


def test_clean_data_passes_every_check(tmp_path: Path, tok: Path) -> None:
    code, summary, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), tok)
    assert code == 0 and not_passing(checks) == set(), {k: checks[k]["message"] for k in not_passing(checks)}
    assert summary["n_rows"] == 40 and summary["n_bad_rows"] == 0 and summary["prompt_duplicate_ratio"] == 0


def test_eos_missing_from_the_template(tmp_path: Path, tok: Path) -> None:
    folder = tokenizer_copy(tmp_path, tok, "no-eos")
    jinja = folder / "chat_template.jinja"
    jinja.write_text(jinja.read_text().replace(" + '<|end|>'", ""))
    code, _, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 1 and not_passing(checks) == {"eos_trained"}
    assert checks["eos_trained"]["count"] == 40 and "never learns to stop" in checks["eos_trained"]["message"]


def test_split_role_marker(tmp_path: Path, tok: Path) -> None:
    folder = tokenizer_copy(tmp_path, tok, "split-marker")
    jinja = folder / "chat_template.jinja"
    text = jinja.read_text().replace("'<|assistant|>'", "'<|bot|>'")
    text = text.replace(
        "'<|' + message['role'] + '|>'", "'<|' + ('bot' if message['role'] == 'assistant' else message['role']) + '|>'"
    )
    jinja.write_text(text)
    code, _, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 1 and not_passing(checks) == {"special_tokens_atomic"}
    assert "<|bot|>" in checks["special_tokens_atomic"]["message"]


def test_a_template_that_refuses_every_row(tmp_path: Path, tok: Path) -> None:
    folder = tokenizer_copy(tmp_path, tok, "raising")
    (folder / "chat_template.jinja").write_text("{{ raise_exception('roles must alternate') }}")
    code, _, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 1 and checks["chat_template"]["status"] == "fail" and checks["chat_template"]["count"] == 40
    assert "roles must alternate" in checks["chat_template"]["examples"][0]["detail"]


def test_rows_over_max_len_lose_their_eos(tmp_path: Path, tok: Path) -> None:
    rows = clean_rows()
    for r in rows[:4]:
        r["messages"][1]["content"] += " It is a long and winding tale." * 20
    code, _, checks = lint(tmp_path, write(tmp_path / "long.jsonl", rows), tok, "--max-len", "64")
    assert code == 1 and not_passing(checks) == {"truncation"}
    assert checks["truncation"]["figures"] == {"n_over": 4, "n_eos_lost": 4}


def test_pad_equal_to_eos(tmp_path: Path, tok: Path) -> None:
    folder = tokenizer_copy(tmp_path, tok, "pad-eos")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "pad_token": config["eos_token"]}))
    code, summary, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 0 and not_passing(checks) == {"eos_trained"} and summary["template"]["pad_is_eos"]
    assert checks["eos_trained"]["status"] == "warn", "pad == eos only bites with a pad-masking collator"
    assert "DataCollatorForLanguageModeling" in checks["eos_trained"]["message"]


def test_end_of_turn_followed_by_a_newline_counts_as_trained(tmp_path: Path, tok: Path) -> None:
    """ChatML and Gemma close a turn with the end-of-turn token and then a newline: the eos is not the last
    trained token, but it is trained (this once false-failed every row of real templates)."""
    folder = tokenizer_copy(tmp_path, tok, "eot-newline")
    jinja = folder / "chat_template.jinja"
    jinja.write_text(jinja.read_text().replace("'<|end|>'", "'<|end|>\\n'"))
    code, _, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 0 and checks["eos_trained"]["status"] == "pass", checks["eos_trained"]["message"]


def test_default_system_prompt_and_folded_system_are_reported(tmp_path: Path, tok: Path) -> None:
    folder = tokenizer_copy(tmp_path, tok, "default-system")
    (folder / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] != 'system' %}{{ '<|system|> You are Lumen, a helpful bot.<|end|>' }}{% endif %}"
        "{% for message in messages %}{{ '<|' + message['role'] + '|>' + ' ' + message['content'] + '<|end|>' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
    )
    code, summary, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folder)
    assert code == 0 and not_passing(checks) == {"template_roles"}
    assert checks["template_roles"]["status"] == "warn" and checks["template_roles"]["count"] == 40
    assert "You are Lumen, a helpful bot." in summary["template"]["default_system_prompt"]
    folded = tokenizer_copy(tmp_path, tok, "folded")
    (folded / "chat_template.jinja").write_text(
        "{% set sys = messages[0]['content'] + '\\n\\n' if messages[0]['role'] == 'system' else '' %}"
        "{% for message in messages if message['role'] != 'system' %}"
        "{{ '<|' + message['role'] + '|>' + ' ' + (sys if loop.first else '') + message['content'] + '<|end|>' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
    )
    _, summary, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), folded)
    assert summary["template"]["system_folded_into_user"] is True
    assert checks["template_roles"]["status"] == "pass" and "folded" in checks["template_roles"]["message"]


def test_empty_answers_and_empty_think_blocks(tmp_path: Path, tok: Path) -> None:
    rows = clean_rows()
    rows[0]["messages"][1]["content"] = "  "
    rows[1]["messages"][1]["content"] = "<think>\n</think>The owl sleeps."
    code, _, checks = lint(tmp_path, write(tmp_path / "empty.jsonl", rows), tok)
    assert code == 1 and not_passing(checks) == {"empty_turns"} and checks["empty_turns"]["count"] == 2


def test_one_domain_dominating_by_field(tmp_path: Path, tok: Path) -> None:
    rows = [{**r, "domain": "medical" if i < 30 else "chat"} for i, r in enumerate(clean_rows())]
    code, _, checks = lint(tmp_path, write(tmp_path / "dom.jsonl", rows), tok, "--domain-field", "domain")
    assert code == 0 and not_passing(checks) == {"domain_concentration"}
    assert checks["domain_concentration"]["figures"]["largest"] == "medical"
    assert checks["domain_concentration"]["figures"]["largest_share"] == 0.75


def test_real_alpaca_data_runs_clean(tmp_path: Path, tok: Path) -> None:
    for name in ("alpaca_en_demo.json", "alpaca_zh_demo.json"):
        code, summary, checks = lint(tmp_path, REALDATA / name, tok)
        assert code == 0 and summary["n_bad_rows"] == 0, {k: checks[k]["message"] for k in not_passing(checks)}
        assert not_passing(checks) <= {"domain_concentration", "truncation"}, name
        assert 0.5 < summary["trained_token_share"] < 1


def test_identity_duplication_matches_a_direct_count(tmp_path: Path, tok: Path) -> None:
    raw = json.loads((REALDATA / "identity.json").read_text(encoding="utf-8"))
    prompts = [r["instruction"] + ("\n" + r["input"] if r["input"] else "") for r in raw]
    answers = [r["output"] for r in raw]
    code, summary, checks = lint(tmp_path, REALDATA / "identity.json", tok)
    assert summary["prompt_duplicate_ratio"] == pytest.approx(1 - len(set(prompts)) / len(prompts))
    assert summary["answer_duplicate_ratio"] == pytest.approx(1 - len(set(answers)) / len(answers))
    holes = sum("{{" in a for a in answers)
    assert (
        code == 1
        and checks["answer_duplication"]["status"] == "fail"
        and checks["answer_duplication"]["count"] == holes
    )
    assert "{{name}}" in checks["answer_duplication"]["message"]


def test_tool_turns_need_a_tool_marker_the_lab_template_lacks(tmp_path: Path, tok: Path) -> None:
    code, _, checks = lint(tmp_path, REALDATA / "glaive_toolcall_en_demo.json", tok, "--max-len", "100000")
    assert code == 1
    assert checks["chat_template"]["status"] == "pass" and checks["eos_trained"]["status"] == "pass"
    assert (
        checks["special_tokens_atomic"]["status"] == "fail" and "<|tool|>" in checks["special_tokens_atomic"]["message"]
    )
    assert checks["multi_turn"]["figures"]["trained_last"] < checks["multi_turn"]["figures"]["trained_all"]


def test_loss_on_last_and_train_on_prompt(tmp_path: Path, tok: Path) -> None:
    two = [{"role": "user", "content": "Where is the fox?"}, {"role": "assistant", "content": "By the river."}]
    two += [{"role": "user", "content": "And the owl?"}, {"role": "assistant", "content": "In the oak."}]
    file = write(tmp_path / "multi.jsonl", [{"messages": two}])
    runs = {}
    for flags in ((), ("--loss-on", "last"), ("--train-on-prompt",)):
        out = tmp_path / f"r{len(runs)}"
        main(["data", str(file), "--tokenizer", str(tok), "--out", str(out), *flags])
        runs[flags] = read_records(out)[0]
    every, last, prompt = runs.values()
    assert last["trained"] < every["trained"] < prompt["trained"] == prompt["tokens"]
    view = every["token_view"]
    trained_eos = [t for t in view if t["eos"] and t["trained"]]
    assert len(trained_eos) == 2 and view[-1] == trained_eos[-1]
    assert {t["role"] for t in view if not t["trained"]} == {"user", "template"}


def test_no_chat_template_fails_and_skips_what_needs_one(tmp_path: Path, lab: Path) -> None:
    code, _, checks = lint(tmp_path, write(tmp_path / "clean.jsonl", clean_rows()), lab / "base")
    assert code == 1 and checks["chat_template"]["status"] == "fail"
    assert checks["special_tokens_atomic"]["status"] == "skip"


def test_report_escapes_data_and_shows_tokens(tmp_path: Path, tok: Path) -> None:
    rows = clean_rows()
    rows[0]["messages"][1]["content"] = "<script>alert(1)</script> [bold]x[/bold]"
    lint(tmp_path, write(tmp_path / "x.jsonl", rows), tok, "--show", "1")
    run = next(tmp_path.glob("run-x-*"))
    html = run.joinpath("report.html").read_text()
    shown = "".join(t["text"] for t in read_records(run)[0]["token_view"])
    assert "<script>alert(1)</script> [bold]x[/bold]<|end|>" in shown and "<script" not in html
    assert 'class="tok r-assistant trained eos"' in html and 'class="tok r-user masked"' in html


def test_resume_finishes_an_interrupted_lint(tmp_path: Path, tok: Path) -> None:
    file = write(tmp_path / "clean.jsonl", clean_rows())
    out = tmp_path / "r"
    main(["data", str(file), "--tokenizer", str(tok), "--out", str(out)])
    first = read_summary(out)
    lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
    (out / "records.jsonl").write_text("".join(lines[:15]) + lines[15][:20])  # killed mid-write
    (out / "summary.json").unlink()
    assert main(["data", str(file), "--tokenizer", str(tok), "--out", str(out), "--resume"]) == 0
    assert read_summary(out)["checks"] == first["checks"] and len(read_records(out)) == 40


def test_bad_inputs_are_one_line_errors(tmp_path: Path, tok: Path) -> None:
    out = str(tmp_path / "r")
    assert main(["data", str(tmp_path / "none.jsonl"), "--tokenizer", str(tok), "--out", out]) == 2
    file = write(tmp_path / "clean.jsonl", clean_rows())
    assert main(["data", str(file), "--tokenizer", str(tmp_path / "no-such-tokenizer"), "--out", out]) == 2
    assert main(["data", str(file), "--tokenizer", str(tok), "--max-len", "0", "--out", out]) == 2
    assert not (tmp_path / "r").exists(), "nothing is written on bad input"


def test_overfit_reads_any_sft_format_but_refuses_bad_rows(tmp_path: Path) -> None:
    from sftdebug.overfit.sweep import read_conversations

    share = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]}]
    assert read_conversations(write(tmp_path / "s.json", share, False)) == [
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    ]
    bad = write(tmp_path / "b.jsonl", [*clean_rows()[:2], {"messages": [{"role": "user", "content": "x"}]}])
    with pytest.raises(UsageError, match=r"b\.jsonl:3: no assistant turn"):
        read_conversations(bad)


def test_terminal_view_without_colours_labels_every_run(tmp_path: Path, tok: Path, capsys) -> None:
    lint(tmp_path, write(tmp_path / "c.jsonl", clean_rows()[:2]), tok, "--show", "1")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  [")]
    assert [line.split("]")[0].strip(" [") for line in lines] == [
        "user, masked",
        "template, masked",
        "assistant, trained",
    ]
    assert lines[-1].endswith("<|end|>(eos)") and "¦" in lines[-1]
