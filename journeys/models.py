"""The journeys app's models live beside their services, one module per feature; this
module gathers them so Django finds them under the `journeys` label."""

from .sequences.models import Delivery, Sequence, SequenceMessage, Subscription

__all__ = ["Delivery", "Sequence", "SequenceMessage", "Subscription"]
