"""CRM service functions. Action types, the engine and teambox call these, never the tables.

Values are normalised on write (numbers as digits with country code, e-mail
addresses lower-case) so lookups compare plainly. Bad input raises
`ContactError` with a message that says what was wrong.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from picky.models import Membership
from picky.names import name_in, name_is
from picky.wording import listed

from . import queries
from .models import (
    Category,
    Contact,
    Note,
    OptOut,
    OptOutList,
    Reminder,
    Tag,
    TimelineEntry,
    new_reply_token,
    validate_number,
)

NON_DIGITS = re.compile(r"\D+")
# Rows per statement in bulk reads and writes (SQLite takes at most 999 parameters).
BULK_BATCH = 500
REPLY_ADDRESS = re.compile(r"^reply\+(?P<token>[0-9a-f]+)@", re.IGNORECASE)


class ContactError(ValueError):
    """Contact data that cannot be used; the message says what and why."""


# Normalising -------------------------------------------------------------------


def normalise_number(raw):
    """Digits with country code: no '+', spaces, dashes or leading zeros."""
    return NON_DIGITS.sub("", str(raw or "")).lstrip("0")


def clean_number(raw):
    """The normalised number, or ContactError when it is not a WhatsApp number."""
    number = normalise_number(raw)
    try:
        validate_number(number)
    except ValidationError:
        raise ContactError(
            f"{raw!r} is not a WhatsApp number: use 7 to 15 digits with the country code, "
            "e.g. 919847012345."
        ) from None
    return number


def clean_email(raw):
    email = str(raw or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ContactError(f"{raw!r} is not an e-mail address.") from None
    return email


# Context -------------------------------------------------------------------------


def contact_as_context(contact, labels=None):
    """The `contact` namespace of a run's context; `labels` as `labels_of` gives them,
    when the caller read them with the contact (`upsert_contact_with_labels`)."""
    if contact is None or contact.pk is None:
        return {}
    owner = contact.owner
    return {
        "id": contact.pk,
        "number": contact.number,
        "name": contact.name,
        "email": contact.email,
        "attributes": dict(contact.attributes or {}),
        **(labels if labels is not None else labels_of(contact)),
        "owner": owner.get_username() if owner else "",
        "owner_email": owner.email if owner else "",
        "owner_name": (owner.get_full_name() or owner.get_username()) if owner else "",
        "blacklisted": contact.blacklisted,
        "last_interaction_at": _iso(contact.last_interaction_at),
        "smart_replies_paused_until": _iso(contact.smart_replies_paused_until),
        "created_at": _iso(contact.created_at),
    }


def labels_of(contact):
    """The contact's tags, categories and opt-out lists, sorted by name.

    With all three prefetched (broadcast batches) this costs nothing; otherwise
    it is one query for the three, not one each.
    """
    cache = getattr(contact, "_prefetched_objects_cache", {})
    if {"tags", "categories", "optouts"} <= cache.keys():
        rows = [("tags", tag.name) for tag in contact.tags.all()]
        rows += [("categories", category.name) for category in contact.categories.all()]
        rows += [("optouts", optout.name) for optout in contact.optouts.all()]
    else:
        rows = queries.contact_labels(contact.pk)
    return labels_from_rows(rows)


def labels_from_rows(rows):
    """(kind, name) rows as the three sorted lists of `labels_of`."""
    labels = {"tags": [], "categories": [], "optouts": []}
    for kind, name in rows:
        labels[kind].append(name)
    return {kind: sorted(names) for kind, names in labels.items()}


def _iso(value):
    return value.isoformat() if value else ""


# Finding and creating -------------------------------------------------------------


def find_contact(project, number="", email=""):
    """The project's contact with this number, else with this e-mail address, or None."""
    return _find_contact(project, number, email)[0]


def _find_contact(project, number="", email="", with_labels=False):
    """(contact or None, its labels or None); the labels come with a contact found by
    number when asked, in the same query."""
    number = normalise_number(number)
    if number:
        contact, rows = queries.contact_by_number(project.pk, number, with_labels)
        if contact is not None:
            return contact, None if rows is None else labels_from_rows(rows)
    email = str(email or "").strip().lower()
    if email:
        contact = (
            Contact.objects.filter(project=project, email=email).order_by("created_at").first()
        )
        return contact, None
    return None, None


def upsert_contact(project, number, name="", email="", attributes=None):
    """Create or update the project's contact with this number (or, without one, e-mail).

    Returns the contact, or None when neither a number nor an e-mail address is
    given. Raises ContactError for a number or address that is not valid.
    """
    return upsert_contact_with_labels(project, number, name, email, attributes)[0]


def upsert_contact_with_labels(project, number, name="", email="", attributes=None):
    """`upsert_contact`, and the contact's labels as `labels_of` gives them (None when
    they were not read with the contact): a run maps its contact and reads its labels
    in one query."""
    number = clean_number(number) if normalise_number(number) else ""
    email = clean_email(email) if str(email or "").strip() else ""
    if not number and not email:
        return None, None
    contact, labels = _find_contact(
        project, number=number, email="" if number else email, with_labels=True
    )
    if contact is None:
        values = {"project_id": project.pk, "number": number, "name": name or "",
                  "email": email, "attributes": attributes or {}}  # fmt: skip
        contact = queries.insert_contact_unless_number_taken(values)
        if contact is not None:
            return contact, labels_from_rows([])
        # Created by a concurrent run between our lookup and insert.
        contact, labels = _find_contact(project, number=number, email=email)
    return update_contact(contact, name=name, email=email, attributes=attributes), labels


def update_contact(contact, number="", name="", email="", attributes=None):
    """Set the given (non-empty) values on `contact`; attributes are merged."""
    number = clean_number(number) if normalise_number(number) else ""
    email = clean_email(email) if str(email or "").strip() else ""
    changed = []
    for field, value in (("name", name), ("email", email), ("number", number)):
        if value and getattr(contact, field) != value:
            setattr(contact, field, value)
            changed.append(field)
    if attributes:
        merged = {**contact.attributes, **attributes}
        if merged != contact.attributes:
            contact.attributes = merged
            changed.append("attributes")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def delete_contact(contact):
    """Delete the contact with its notes, reminders and messages."""
    contact.delete()


# Attributes ------------------------------------------------------------------------


def set_attribute(contact, name, value):
    name = str(name or "").strip()
    if not name:
        raise ContactError("An attribute needs a name.")
    contact.attributes = {**(contact.attributes or {}), name: value}
    contact.save(update_fields=["attributes", "updated_at"])
    return contact


def clear_attribute(contact, name):
    """Remove the attribute; returns whether it was there."""
    attributes = dict(contact.attributes or {})
    if name not in attributes:
        return False
    del attributes[name]
    contact.attributes = attributes
    contact.save(update_fields=["attributes", "updated_at"])
    return True


# Tags, categories, opt-out lists ------------------------------------------------------


def clean_names(names):
    """Names from a list or a comma-separated text (lists may nest, as a template that is
    one `{{ path }}` gives a list), stripped, de-duplicated; empty and missing values dropped."""
    flat = []

    def collect(value):
        if value is None:
            return
        if isinstance(value, (list, tuple)):
            for item in value:
                collect(item)
        else:
            flat.extend(str(value).split(","))

    collect(names)
    cleaned = []
    for name in flat:
        name = name.strip()
        if name and name.lower() not in {n.lower() for n in cleaned}:
            cleaned.append(name)
    return cleaned


def add_tags(contact, names):
    """Tag `contact` (tags created when new); the tags' names as stored, in the order given."""
    tags = queries.link_named_tags(contact, clean_names(names))
    getattr(contact, "_prefetched_objects_cache", {}).pop("tags", None)
    return [tag.name for tag in tags]


def remove_tags(contact, names):
    tags = [
        queries.named_row(Tag, contact.project_id, name, create=False)
        for name in clean_names(names)
    ]
    tags = [tag for tag in tags if tag is not None]
    contact.tags.remove(*tags)
    return [tag.name for tag in tags]


def add_categories(contact, names):
    categories = queries.named_rows(Category, contact.project_id, clean_names(names))
    contact.categories.add(*categories)
    return [category.name for category in categories]


def remove_categories(contact, names):
    found = [
        queries.named_row(Category, contact.project_id, n, create=False) for n in clean_names(names)
    ]
    found = [category for category in found if category is not None]
    contact.categories.remove(*found)
    return [category.name for category in found]


def opt_out(contact, list_name):
    """Put the contact on the opt-out list `list_name` (created when new)."""
    name = str(list_name or "").strip()
    if not name:
        raise ContactError("Name the opt-out list.")
    optout_list = queries.named_row(OptOutList, contact.project_id, name)
    OptOut.objects.get_or_create(contact=contact, optout_list=optout_list)
    return optout_list


def opt_in(contact, list_name):
    """Take the contact off the opt-out list; returns whether they were on it."""
    optout_list = queries.named_row(
        OptOutList, contact.project_id, str(list_name or "").strip(), create=False
    )
    if optout_list is None:
        return False
    deleted, _ = OptOut.objects.filter(contact=contact, optout_list=optout_list).delete()
    return bool(deleted)


def set_blacklisted(contact, blacklisted):
    if contact.blacklisted != blacklisted:
        contact.blacklisted = blacklisted
        contact.save(update_fields=["blacklisted", "updated_at"])
    return contact


def refusal_reason(contact, optout_list=""):
    """Why the contact must not be messaged (blacklist, the opt-out list), or ""."""
    if contact.blacklisted:
        return "The contact is blacklisted."
    name = str(optout_list or "").strip().lower()
    if name and any(entry.name.lower() == name for entry in contact.optouts.all()):
        return f"The contact opted out of {optout_list.strip()!r}."
    return ""


# Ownership, notes, reminders ----------------------------------------------------------


def project_agent(project, reference):
    """The member of `project` whose username or e-mail address is `reference`."""
    reference = str(reference or "").strip()
    if not reference:
        raise ContactError("Name the agent by username or e-mail address.")
    user = (
        get_user_model()
        .objects.filter(name_is(reference, "username") | name_is(reference, "email"))
        .filter(pk__in=Membership.objects.filter(project=project).values("user"))
        .order_by("pk")
        .first()
    )
    if user is None:
        raise ContactError(
            f"No member of project {project.slug!r} is called {reference!r}. "
            + members_listed(project)
        )
    return user


def member_addresses(project):
    """The phone numbers and e-mail addresses of the project's members: a message to one
    of them is the team's own, and makes nobody a contact."""
    rows = Membership.objects.filter(project=project).values_list("phone", "user__email")
    return {value.lower() for row in rows for value in row if value}


def members_listed(project):
    """The project's members by username, as a sentence for a message naming none of them."""
    members = get_user_model().objects.filter(
        pk__in=Membership.objects.filter(project=project).values("user")
    )
    return listed(
        members.order_by("username").values_list("username", flat=True),
        "members",
        "add them on the project's page",
    )


def change_owner(contact, owner):
    """Give the contact to `owner` (a user) or to nobody (None)."""
    if contact.owner_id != (owner.pk if owner else None):
        contact.owner = owner
        contact.save(update_fields=["owner", "updated_at"])
    return contact


def add_note(contact, text, author=None):
    text = str(text or "").strip()
    if not text:
        raise ContactError("A note needs text.")
    return Note.objects.create(
        project_id=contact.project_id, contact=contact, text=text, author=author
    )


def add_reminder(contact, text, due_at, assignee=None):
    text = str(text or "").strip()
    if not text:
        raise ContactError("A reminder needs text.")
    return Reminder.objects.create(
        project_id=contact.project_id,
        contact=contact,
        text=text,
        due_at=due_at,
        assignee=assignee,
    )


# The contact's timeline ----------------------------------------------------------------


def add_timeline_entry(contact, kind, text="", data=None, author=None):
    """One line on the contact's timeline; `kind` is a TimelineEntry.Kind value, `data`
    what that kind shows (a message's id, a card's buttons, who was assigned)."""
    return TimelineEntry.objects.create(
        project_id=contact.project_id,
        contact=contact,
        kind=kind,
        text=str(text or ""),
        data=data or {},
        author=author,
    )


def add_timeline_entries(entries):
    """Many lines at once (a webhook's messages, a broadcast's batch): `entries` are
    (contact, kind, text, data) tuples; one INSERT per BULK_BATCH lines."""
    return TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                project_id=contact.project_id,
                contact=contact,
                kind=kind,
                text=str(text or ""),
                data=data or {},
            )
            for contact, kind, text, data in entries
        ],
        batch_size=BULK_BATCH,
    )


def credit_timeline_entries(contact, kind, author, **data):
    """Name `author` on the contact's timeline lines of `kind` whose data holds `data` and
    that name nobody yet (a reply an agent sent, recorded as the message was queued);
    how many."""
    lines = TimelineEntry.objects.filter(contact=contact, kind=kind, author__isnull=True)
    return lines.filter(**{f"data__{key}": value for key, value in data.items()}).update(
        author=author
    )


def timeline_of(contact, limit=100):
    """The contact's latest timeline lines, newest first, with their authors."""
    return list(
        TimelineEntry.objects.filter(contact=contact)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


# Interaction, smart replies ------------------------------------------------------------


def record_interaction(contact, when=None):
    """The contact wrote to us at `when` (now by default)."""
    when = when or timezone.now()
    if contact.last_interaction_at is None or contact.last_interaction_at < when:
        contact.last_interaction_at = when
        contact.save(update_fields=["last_interaction_at", "updated_at"])
    return contact


def record_senders(project, senders):
    """The contacts who wrote to us, created when new: `senders` {number: (name, when)},
    numbers as `clean_number` gives them. A contact without a name takes the one given;
    its last interaction moves forward to `when`. Returns {number: contact}.

    In bulk, a few statements per thousand senders: one webhook may carry thousands of
    messages."""
    name_length = Contact._meta.get_field("name").max_length
    numbers = list(senders)
    contacts = _contacts_by_number(project, numbers)
    new = [number for number in numbers if number not in contacts]
    if new:
        Contact.objects.bulk_create(
            [
                Contact(
                    project=project,
                    number=number,
                    name=senders[number][0][:name_length],
                    last_interaction_at=senders[number][1],
                )
                for number in new
            ],
            batch_size=BULK_BATCH,
            ignore_conflicts=True,  # a concurrent run or webhook made it a moment ago
        )
        contacts.update(_contacts_by_number(project, new))
    now = timezone.now()
    unnamed = []
    latest = {}  # when: ids of the contacts who wrote last then
    for number, contact in contacts.items():
        name, when = senders[number]
        if name and not contact.name:
            contact.name = name[:name_length]
            contact.updated_at = now
            unnamed.append(contact)
        if contact.last_interaction_at is None or contact.last_interaction_at < when:
            contact.last_interaction_at = when
            latest.setdefault(when, []).append(contact.pk)
    Contact.objects.bulk_update(unnamed, ["name", "updated_at"], batch_size=BULK_BATCH)
    # A webhook's messages mostly share their time: one UPDATE per time and batch.
    for when, ids in latest.items():
        for start in range(0, len(ids), BULK_BATCH):
            Contact.objects.filter(pk__in=ids[start : start + BULK_BATCH]).filter(
                Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=when)
            ).update(last_interaction_at=when, updated_at=now)
    return contacts


def _contacts_by_number(project, numbers):
    contacts = {}
    for start in range(0, len(numbers), BULK_BATCH):
        chunk = numbers[start : start + BULK_BATCH]
        for contact in Contact.objects.filter(project=project, number__in=chunk):
            contacts[contact.number] = contact
    return contacts


def pause_smart_replies(contact, duration):
    """Pause automatic replies to the contact for `duration` (a timedelta) from now."""
    contact.smart_replies_paused_until = timezone.now() + duration
    contact.save(update_fields=["smart_replies_paused_until", "updated_at"])
    return contact


def smart_replies_paused(contact, now=None):
    until = contact.smart_replies_paused_until
    return until is not None and until > (now or timezone.now())


# Reply addresses (send_whatsmail) -----------------------------------------------------


def reply_address(contact):
    """The contact's unique reply-to address, reply+<token>@<PICKY_REPLY_DOMAIN>."""
    if not contact.reply_token:
        Contact.objects.filter(pk=contact.pk, reply_token__isnull=True).update(
            reply_token=new_reply_token()
        )
        contact.reply_token = Contact.objects.values_list("reply_token", flat=True).get(
            pk=contact.pk
        )
    return f"reply+{contact.reply_token}@{settings.PICKY_REPLY_DOMAIN}"


def contact_for_reply_address(project, address):
    """The project's contact a reply+<token>@ address belongs to, or None."""
    match = REPLY_ADDRESS.match(str(address or "").strip())
    if match is None:
        return None
    return Contact.objects.filter(project=project, reply_token=match["token"].lower()).first()


# Segments (broadcasts) -------------------------------------------------------------------


def segment_contacts(
    project, tags=(), categories=(), attributes=None, interacted_within_hours=None
):
    """The project's contacts in a segment: any of `tags`, any of `categories`,
    every attribute equal, and a last interaction within N hours. Empty parts do not filter."""
    contacts = Contact.objects.filter(project=project)
    tags = clean_names(tags)
    if tags:
        contacts = contacts.filter(
            pk__in=Contact.tags.through.objects.filter(
                tag__project=project, tag__in=Tag.objects.filter(name_in(tags), project=project)
            ).values("contact")
        )
    categories = clean_names(categories)
    if categories:
        contacts = contacts.filter(
            pk__in=Contact.categories.through.objects.filter(
                category__project=project,
                category__in=Category.objects.filter(name_in(categories), project=project),
            ).values("contact")
        )
    for position, (key, value) in enumerate((attributes or {}).items()):
        # A transform, not `attributes__<key>`: keys may hold "__" or spaces.
        alias = f"segment_attribute_{position}"
        contacts = contacts.alias(**{alias: KeyTransform(key, "attributes")}).filter(
            **{alias: value}
        )
    if interacted_within_hours:
        since = timezone.now() - timedelta(hours=float(interacted_within_hours))
        contacts = contacts.filter(last_interaction_at__gte=since)
    return contacts


def opted_out(contacts, optout_list):
    """Those of `contacts` on the opt-out list called `optout_list`, whatever the case."""
    return contacts.filter(optouts__in=OptOutList.objects.filter(name_is(optout_list)))


def messageable(contacts, optout_list=""):
    """`contacts` without the blacklisted and those on the opt-out list."""
    contacts = contacts.filter(blacklisted=False)
    name = str(optout_list or "").strip()
    if name:
        contacts = contacts.exclude(optouts__in=OptOutList.objects.filter(name_is(name)))
    return contacts
