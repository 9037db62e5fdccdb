"""Signals crm sends so automation can react without crm importing it.

`record_changed(sender=Module, module, record, before, change)` is sent after the
transaction that wrote a record commits: `record` is crm.records.services.record_as_dict
of the record after the change (before it, for a deletion), `before` the same dict before
an update (None for "created" and "deleted"), `change` one of "created", "updated",
"deleted". A write made with trigger_workflows=False sends nothing.

`macro_submitted(sender=MacroButton, button, record, author)` is sent when an agent
submits a macro button's form on a record (`record` as record_as_dict, `author` the
agent's user), after the record's update commits.
"""

from django.dispatch import Signal

record_changed = Signal()
macro_submitted = Signal()
