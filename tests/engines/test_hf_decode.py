"""The transformers engine's own decode loop (eos, stop strings, length, top-p, seeds, batching with left padding)
on a mock model and a byte tokenizer, so every expected output is known by construction (as nanochat's
test_engine does). No checkpoint, no training: runs in milliseconds."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from sftdebug.engines import GenerationRequest, SamplingParams
from sftdebug.engines.hf import HFEngine

EOS = 256
VOCAB = 257


class ByteTokenizer:
    """One token per UTF-8 byte, plus eos (256)."""

    eos_token_id = EOS
    pad_token_id = None
    chat_template = None
    name_or_path = "bytes"

    def __call__(self, text: str | list[str], add_special_tokens: bool = False) -> dict[str, Any]:
        if isinstance(text, list):
            return {"input_ids": [list(t.encode()) for t in text]}
        return {"input_ids": list(text.encode())}

    def decode(self, ids: list[int], **_: Any) -> str:
        return bytes(i for i in ids if i < 256).decode(errors="replace")

    def convert_ids_to_tokens(self, ids: Any) -> Any:
        return [chr(i) if i < 256 else "<eos>" for i in ids] if isinstance(ids, list) else chr(ids)


class CountingModel(torch.nn.Module):
    """Next byte = last byte + 1, except after 'e' (then eos). In `sampling` mode every step has the fixed
    distribution a 0.6, b 0.3, c 0.1."""

    def __init__(self, sampling: bool = False) -> None:
        super().__init__()
        self.sampling = sampling
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(max_position_embeddings=64)
        self.generation_config = SimpleNamespace(eos_token_id=EOS)
        self.calls: list[tuple[int, ...]] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> Any:
        self.calls.append(tuple(input_ids.shape))
        last = input_ids[:, -1]
        logits = torch.full((input_ids.shape[0], 1, VOCAB), -1e9)
        for b, tok in enumerate(last.tolist()):
            if self.sampling:
                for ch, p in (("a", 0.6), ("b", 0.3), ("c", 0.1)):
                    logits[b, 0, ord(ch)] = float(torch.log(torch.tensor(p)))
            else:
                logits[b, 0, EOS if tok == ord("e") else (tok + 1) % 256] = 0.0
        return SimpleNamespace(logits=logits, past_key_values=None)


def engine(sampling: bool = False, batch_size: int = 16) -> HFEngine:
    return HFEngine.from_loaded("mock", CountingModel(sampling), ByteTokenizer(), batch_size=batch_size)


def gen(e: HFEngine, prompt: str, **params: Any) -> Any:
    [[c]] = e.generate([GenerationRequest(prompt, SamplingParams(**params))])
    return c


def test_eos_ends_generation_and_is_not_in_the_text() -> None:
    c = gen(engine(), "abc", max_new_tokens=10)
    assert (c.text, c.finish_reason, c.stop_reason) == ("de", "stop", "eos")
    assert c.token_ids == (ord("d"), ord("e"), EOS) and c.prompt_tokens == 3


def test_length_limit() -> None:
    c = gen(engine(), "k", max_new_tokens=4)
    assert (c.text, c.finish_reason, c.stop_reason) == ("lmno", "length", None)
    assert len(c.timing.token_times_s) == 4 and c.timing.ttft_s <= c.timing.e2e_s


def test_stop_string_cuts_before_it() -> None:
    c = gen(engine(), "k", max_new_tokens=10, stop=("no",))
    assert (c.text, c.finish_reason, c.stop_reason) == ("lm", "stop", "no")


def test_ignore_eos_and_extra_stop_token() -> None:
    c = gen(engine(), "c", max_new_tokens=4, ignore_eos=True)
    assert c.finish_reason == "length" and len(c.token_ids) == 4 and EOS in c.token_ids
    s = gen(engine(), "k", max_new_tokens=10, stop_token_ids=(ord("n"),))
    assert (s.text, s.stop_reason) == ("lm", str(ord("n")))


def test_batch_with_left_padding_equals_one_by_one() -> None:
    prompts = ["abc", "k", "xyzab", "c"]
    e = engine(batch_size=4)
    batched = e.generate([GenerationRequest(p, SamplingParams(max_new_tokens=5)) for p in prompts])
    single = [gen(engine(), p, max_new_tokens=5) for p in prompts]
    assert [b[0].text for b in batched] == [s.text for s in single]
    assert [b[0].finish_reason for b in batched] == [s.finish_reason for s in single]


def test_top_p_keeps_only_the_nucleus_and_seeds_reproduce() -> None:
    e = engine(sampling=True)
    [samples] = e.generate([GenerationRequest("x", SamplingParams(max_new_tokens=8, temperature=1.0, n=20, seed=1))])
    counts = Counter("".join(c.text for c in samples))
    assert set(counts) == {"a", "b", "c"} and counts["a"] > counts["c"], counts
    [nucleus] = e.generate(
        [GenerationRequest("x", SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.85, n=20, seed=1))]
    )
    assert set("".join(c.text for c in nucleus)) == {"a", "b"}, "c lies outside the 0.85 nucleus"
    [top] = e.generate([GenerationRequest("x", SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.5, n=3))])
    assert all(c.text == "a" * 8 for c in top), "a alone covers p = 0.5"
    again = e.generate([GenerationRequest("x", SamplingParams(max_new_tokens=8, temperature=1.0, n=20, seed=1))])[0]
    assert [c.text for c in again] == [c.text for c in samples], "the same seed gives the same samples"


def test_prompt_too_long_is_a_usage_error() -> None:
    from sftdebug.core.errors import UsageError

    with pytest.raises(UsageError, match="64 positions"):
        gen(engine(), "a" * 60, max_new_tokens=8)


@pytest.mark.parametrize("arch", ["llama", "gemma3_text"])
def test_finished_rows_leave_the_batch_without_changing_any_answer(arch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows that finish early are dropped from the decode batch (with their KV rows): every answer is the one the
    full-width batch gives, token for token — a tiny random model of each cache kind (plain and sliding-window)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    import sftdebug.engines.hf as hf

    torch.manual_seed(0)
    sizes = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=8, max_position_embeddings=128)  # fmt: skip
    extra = (
        {"sliding_window": 4, "layer_types": ["sliding_attention", "full_attention"]} if arch == "gemma3_text" else {}
    )
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(arch, **sizes, **extra)).eval()
    model.generation_config.eos_token_id = EOS
    prompts = ["abc", "hello there", "x", "a longer prompt here", "zz", "q", "the end", "mid"]
    requests = [GenerationRequest(p, SamplingParams(max_new_tokens=1 + 3 * i)) for i, p in enumerate(prompts)]
    calls: list[int] = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda **kw: calls.append(kw["input_ids"].shape[0]) or forward(**kw))

    def answers() -> list[tuple[int, ...]]:
        e = HFEngine.from_loaded("tiny", model, ByteTokenizer(), batch_size=8)
        return [c.token_ids for [c] in e.generate(requests)]

    dropped = answers()
    assert min(calls) < len(prompts)  # rows did leave the batch
    calls.clear()
    monkeypatch.setattr(hf, "DROP_AT", 0.0)
    assert answers() == dropped and min(calls) == len(prompts)
