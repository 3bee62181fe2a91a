"""`sftdebug convert FILE.gguf --out DIR`: a GGUF checkpoint as a plain safetensors folder (see engines/gguf.py).
Any command also takes a .gguf file where it takes a model and converts it once into the cache by itself."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert a GGUF checkpoint into a safetensors folder (dequantised, float32)")
    p.add_argument("file", help="the .gguf file")
    p.add_argument("--out", default=None, help="output folder (default: the cache, $SFTDEBUG_CACHE/gguf/<hash>)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sftdebug.core.cliargs import quiet_libraries
    from sftdebug.core.errors import UsageError
    from sftdebug.engines.gguf import cached_folder, convert
    from sftdebug.report import terminal as console

    path = Path(args.file)
    if not path.exists():
        raise UsageError(f"{args.file}: no such file")
    if not path.is_file() or path.suffix != ".gguf":
        raise UsageError(f"{args.file}: not a .gguf file")
    quiet_libraries()
    if args.out is None:
        folder = cached_folder(path)
    else:
        folder = Path(args.out)
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"--out {folder} is not empty: give a new folder")
        convert(path, folder)
    console.note(f"converted: {folder}")
    return 0
