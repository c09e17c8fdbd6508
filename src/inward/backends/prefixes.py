"""Token rows that share a prefix: left padding, common prefixes and runs of neighbours.

Decoding (``inward.backends.local``) and LoRA training (``inward.backends.lora``) both compute a
prefix that several rows share once and copy its KV cache to those rows; these helpers find the
shared prefixes and lay the rows out.
"""

from __future__ import annotations

import torch


def left_pad(rows: list[list], fill, device,
             dtype: torch.dtype = torch.long) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows padded on the left with ``fill`` into one tensor, and their attention mask."""
    n = max(len(r) for r in rows)
    out = torch.full((len(rows), n), fill, dtype=dtype)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, n - len(r):] = torch.tensor(r, dtype=dtype)
            mask[i, n - len(r):] = 1
    return out.to(device), mask.to(device)


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


SHARED_PREFIX = 16  # tokens beyond the batch's common header that make rows share a prefix


def prefix_groups(seqs: list[list[int]]) -> list[list[int]]:
    """Runs of neighbouring rows that share a long prefix: at least ``SHARED_PREFIX`` tokens
    more than all rows share (the chat template's header is common to every prompt and is not
    a reason to group). Every row is in exactly one run; runs of one row are allowed."""
    if not seqs:
        return []
    common = min(len(s) for s in seqs)
    for s in seqs[1:]:
        common = min(common, common_prefix(seqs[0], s))
    groups = [[0]]
    for r in range(1, len(seqs)):
        if common_prefix(seqs[r - 1], seqs[r]) >= common + SHARED_PREFIX:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups
