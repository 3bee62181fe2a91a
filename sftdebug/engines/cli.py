"""`sftdebug convert FILE.gguf --out DIR`: a GGUF checkpoint as a plain safetensors folder (see engines/gguf.py);
`sftdebug convert ADAPTER_DIR`: a PEFT adapter merged into its base (engines/adapter.py). Any command also takes
either where it takes a model and converts it once into the cache by itself."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "convert",
        help="a GGUF checkpoint (dequantised, float32) or a PEFT adapter folder (merged into its base) as a plain "
        "safetensors checkpoint folder",
    )
    p.add_argument("file", help="the .gguf file, or a PEFT adapter folder (adapter_config.json)")
    p.add_argument("--out", default=None, help="output folder (default: the cache, $SFTDEBUG_CACHE/gguf|merged/<hash>)")
    p.add_argument("--adapter-base", default=None, help="an adapter's base (default: its recorded base)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from sftdebug.core.errors import UsageError
    from sftdebug.engines import adapter
    from sftdebug.engines.config import quiet_libraries
    from sftdebug.engines.gguf import cached_folder, convert
    from sftdebug.report import terminal as console

    path = Path(args.file)
    quiet_libraries()
    if adapter.is_adapter(path):
        adapter.configure(args.adapter_base)
        folder = adapter.merged_folder(adapter.adapter_of(args.file))
        if args.out is not None:
            if Path(args.out).exists() and any(Path(args.out).iterdir()):
                raise UsageError(f"--out {args.out} is not empty: give a new folder")
            shutil.copytree(folder, args.out, dirs_exist_ok=True)
            folder = Path(args.out)
        console.note(f"merged: {folder}")
        return 0
    if not path.exists():
        raise UsageError(f"{args.file}: no such file")
    if not path.is_file() or path.suffix != ".gguf":
        raise UsageError(f"{args.file}: not a .gguf file or a PEFT adapter folder")
    if args.out is None:
        folder = cached_folder(path)
    else:
        folder = Path(args.out)
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"--out {folder} is not empty: give a new folder")
        convert(path, folder)
    console.note(f"converted: {folder}")
    return 0
