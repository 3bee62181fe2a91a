"""SFT data, shared by every command that reads it (data lint, risk, parity, overfit, the lab's trainer): data
files as conversations, and conversations as the tokens and loss mask a correct trainer builds.

    from sftdebug.sftdata import encode_conversation, load_sft_file
    data = load_sft_file("train.jsonl")                      # alpaca, ShareGPT or messages rows; bad rows counted
    enc = encode_conversation(tokenizer, data.rows[0].messages)   # input ids, labels (-100: no loss), segments

    formats.py  OpenAI messages, ShareGPT and alpaca rows as conversations (bad rows named and counted)
    encode.py   conversation -> input ids, labels and segments; the ids that end generation (eos_ids)
"""

from __future__ import annotations

from sftdebug.sftdata.encode import IGNORE, Encoded, Segment, encode_conversation, eos_ids
from sftdebug.sftdata.formats import FORMATS, BadRow, Row, SFTData, load_sft_file

__all__ = [
    "FORMATS",
    "IGNORE",
    "BadRow",
    "Encoded",
    "Row",
    "SFTData",
    "Segment",
    "encode_conversation",
    "eos_ids",
    "load_sft_file",
]
