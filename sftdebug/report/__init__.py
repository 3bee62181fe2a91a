"""Reports built from run folders alone (records.jsonl + summary.json): HTML pages, terminal tables."""
