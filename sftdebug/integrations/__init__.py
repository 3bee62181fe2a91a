"""sftdebug inside other tools' loops. `transformers.py`: a `TrainerCallback` (transformers' Trainer, TRL's
SFTTrainer) that runs the narrow-hallucination check on the model being trained and lints the batches its
collator really builds. Imported by name only (`from sftdebug.integrations.transformers import
SFTDebugCallback`), so nothing here loads unless a training script asks for it.
"""
