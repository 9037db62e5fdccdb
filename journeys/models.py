"""The journeys app's models live beside their services, one module per feature; this
module gathers them so Django finds them under the `journeys` label."""

from .flows.models import BranchRow, Flow, FlowSession, FlowStep
from .replies.models import SmartReply
from .sequences.models import Delivery, Sequence, SequenceMessage, Subscription

__all__ = [
    "BranchRow",
    "Delivery",
    "Flow",
    "FlowSession",
    "FlowStep",
    "Sequence",
    "SequenceMessage",
    "SmartReply",
    "Subscription",
]
