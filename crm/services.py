"""CRM service functions. Action types and the engine call these, never the tables."""

import re

from .models import Contact

NON_DIGITS = re.compile(r"\D+")


def normalise_number(raw):
    """Digits with country code: no '+', spaces, dashes or leading zeros."""
    return NON_DIGITS.sub("", str(raw or "")).lstrip("0")


def contact_as_context(contact):
    """The `contact` namespace of a run's context."""
    if contact is None:
        return {}
    return {
        "id": contact.pk,
        "number": contact.number,
        "name": contact.name,
        "email": contact.email,
        "attributes": dict(contact.attributes or {}),
    }


def upsert_contact(project, number, name="", email="", attributes=None):
    """Create or update the project's contact with this number; returns it (or None)."""
    number = normalise_number(number)
    if not number:
        return None
    contact, created = Contact.objects.get_or_create(
        project=project,
        number=number,
        defaults={"name": name or "", "email": email or "", "attributes": attributes or {}},
    )
    if not created:
        changed = False
        for field, value in (("name", name), ("email", email)):
            if value and getattr(contact, field) != value:
                setattr(contact, field, value)
                changed = True
        if attributes:
            merged = {**contact.attributes, **attributes}
            if merged != contact.attributes:
                contact.attributes = merged
                changed = True
        if changed:
            contact.save(update_fields=["name", "email", "attributes", "updated_at"])
    return contact
