"""Finetuning data: prediction, replay, shift and anchor examples in chat JSONL."""
