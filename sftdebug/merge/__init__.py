"""`sftdebug merge`: the run folders of `--shard I/N` runs joined into the one an unsharded run writes.

    from sftdebug.merge import MergeConfig, run
    result = run(MergeConfig(runs=["runs/s0", "runs/s1"], out="runs/all"))

api.py  the public call: the checks that the shards belong together, the merged folder written whole;
cli.py  the command. Each sharded kind merges its own records and summary (`<diagnostic>/shards.py`).
"""

from sftdebug.merge.api import MergeConfig, run

__all__ = ["MergeConfig", "run"]
