"""What a project's members may do with a module's records outside the admin (the agents'
teambox pages, a macro button sent to an agent): owners and admins read and edit every
module's records; agents what the module's `agent_access` gives them (none, read, edit).
And a record named to an agent by its id alone (an instant notification's): the
project's, or RecordError."""

from picky.models import Membership

from .models import Module, Record
from .values import RecordError

Access = Module.AgentAccess
MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
READABLE = (Access.READ, Access.EDIT)


def member_role(project, user):
    """`user`'s Membership.Role in `project`, or None when they are not a member."""
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def access_to(module, role):
    """What a member of `role` (None: not a member) may do with `module`'s records."""
    if role is None:
        return Access.NONE
    if role in MANAGER_ROLES:
        return Access.EDIT
    return module.agent_access


def may_read(module, role):
    return access_to(module, role) in READABLE


def may_edit(module, role):
    return access_to(module, role) == Access.EDIT


def readable_records(project, role):
    """The records (and data-storage rows) of `project` a member of `role` may read, as a
    queryset to filter further."""
    records = Record.objects.filter(project=project)
    if role is None:
        return records.none()
    if role in MANAGER_ROLES:
        return records
    return records.filter(module__agent_access__in=READABLE)


def find_project_record(project, record_id):
    """The record of `project` with the id `record_id` (text or a number), or RecordError
    saying there is none."""
    text = str(record_id or "").strip()
    record = (
        Record.objects.filter(project=project, pk=int(text)).select_related("module").first()
        # Record ids are 64-bit: a longer number is no record's.
        if text.isdigit() and len(text) < 19
        else None
    )
    if record is None:
        raise RecordError(f"This project has no record {text or '(no id given)'}.", field="id")
    return record
