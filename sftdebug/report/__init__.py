"""Reports built from run folders alone (records.jsonl + summary.json), never from a live run.

html.py      self-contained, escaped HTML pieces;  plots.py  matplotlib figures as data URIs
build.py     run kind -> its diagnostic's report module; single-run pages, multi-run pages, indexes
terminal.py  rich output (progress bars, tables, one-line errors): the only place that prints
cli.py       `sftdebug report DIR [DIR ...]`
"""
