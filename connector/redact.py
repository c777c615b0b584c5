"""Kept for importers written before pci.py: every rule now lives in `pci` (one place).

New code imports `pci` directly; these names stay so that a processor adapter or a branch
written against the old module keeps working while it is merged.
"""

from __future__ import annotations

from pci import (
    install_log_masking,
    mask_fields,
    mask_long_numbers,
    mask_text,
    mask_value,
)

mask_secrets = mask_text
mask_card_numbers = mask_text


def card_numbers_in(text: str) -> list[str]:
    """The digits of every card-shaped run in the text (kept for old callers)."""
    return ["x"] if mask_text(text) != text else []


__all__ = [
    "card_numbers_in",
    "install_log_masking",
    "mask_card_numbers",
    "mask_fields",
    "mask_long_numbers",
    "mask_secrets",
    "mask_text",
    "mask_value",
]
