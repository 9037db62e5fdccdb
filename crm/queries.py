"""crm's SQL that the ORM cannot express, and its differences between databases.

A run maps its contact, reads the contact's labels and tags it on every event: these
statements are written once per process (picky.rows builds and reads them) rather than
compiled by the ORM on every call, and on PostgreSQL several steps go in one statement
(a writable CTE, INSERT ... ON CONFLICT) where a savepoint around each would cost two
round trips more. Every `connection.vendor` branch of crm is here.
"""

import json
from functools import cache

from django.db import IntegrityError, connection, transaction

from picky.names import name_is
from picky.rows import insert_document_sql, rows_document, select_models, selected_columns

from .models import Category, Contact, OptOutList, Tag

CONTACT_SHAPE = ((Contact, tuple(Contact._meta.concrete_fields)),)
NAMED_FIELDS = {model: tuple(model._meta.concrete_fields) for model in (Tag, Category, OptOutList)}


# Contacts ----------------------------------------------------------------------------


def contact_by_number(project_id, number, with_labels=False):
    """(the project's contact with this number, or None; its labels as (kind, name) rows
    when asked, read in the same query, else None)."""
    # Raw: every run that maps a contact asks this; the ORM's compiling cost more.
    found = select_models(contact_by_number_query(with_labels), [project_id, number], CONTACT_SHAPE)
    if not found:
        return None, None
    contact, *labels = found[0]
    if not with_labels:
        return contact, None
    # PostgreSQL gives the JSON array decoded, SQLite as text; no labels: null.
    rows = json.loads(labels[0]) if isinstance(labels[0], str) else labels[0]
    return contact, rows or []


@cache
def contact_by_number_query(with_labels):
    """The project's contact with a number; `with_labels`: and its labels as a JSON
    array of [kind, name] (null or [] when it has none) in one more column."""
    table = connection.ops.quote_name(Contact._meta.db_table)
    labels = ""
    if with_labels:
        if connection.vendor == "postgresql":
            aggregate = "json_agg(json_build_array(kind, name))"
        else:
            aggregate = "json_group_array(json_array(kind, name))"
        labels = f", (SELECT {aggregate} FROM ({labels_union('c.id')}) labels)"
    return (
        f"SELECT {selected_columns('c', CONTACT_SHAPE[0][1])}{labels} "
        f"FROM {table} c WHERE c.project_id = %s AND c.number = %s"
    )


def insert_contact_unless_number_taken(values):
    """A new contact with `values` {field attname: value}, or None when the project has
    a contact with its number already (one made by a concurrent run).

    On PostgreSQL one INSERT ... ON CONFLICT DO NOTHING: a savepoint around the INSERT,
    to keep the run's transaction usable after the conflict, cost two round trips more
    (a run makes a contact for every new lead)."""
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                return Contact.objects.create(**values)
        except IntegrityError:
            return None
    found = select_models(insert_contact_query(), [rows_document(Contact, [values])], CONTACT_SHAPE)
    return found[0][0] if found else None


@cache
def insert_contact_query():
    quote = connection.ops.quote_name
    # The conflict target names unique_contact_number, a partial index (numbered contacts).
    return (
        f"{insert_document_sql(Contact, returning=False)} "
        "ON CONFLICT (project_id, number) WHERE NOT (number = '') DO NOTHING "
        f"RETURNING {', '.join(quote(field.column) for field in CONTACT_SHAPE[0][1])}"
    )


# Labels ------------------------------------------------------------------------------


def contact_labels(contact_id):
    """The contact's tags, categories and opt-out lists as (kind, name) rows, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(labels_query(), [contact_id] * 3)
        return cursor.fetchall()


@cache
def labels_query():
    return labels_union("%s")


def labels_union(contact_id):
    """The labels of the contact whose id is `contact_id` (SQL) as rows (kind, name)."""
    quote = connection.ops.quote_name
    parts = []
    for kind, relation, column in (
        ("tags", Contact.tags, "tag_id"),
        ("categories", Contact.categories, "category_id"),
        ("optouts", Contact.optouts, "optout_list_id"),
    ):
        label_table = quote(relation.field.related_model._meta.db_table)
        link_table = quote(relation.through._meta.db_table)
        parts.append(
            f"SELECT '{kind}' AS kind, l.name AS name FROM {label_table} l JOIN {link_table} k "
            f"ON k.{column} = l.id WHERE k.contact_id = {contact_id}"
        )
    return " UNION ALL ".join(parts)


def named_row(model, project_id, name, create=True):
    """The project's row of `model` (a label) with this name (case-insensitive), created
    if asked."""
    row = model.objects.filter(name_is(name), project_id=project_id).first()
    if row is not None or not create:
        return row
    try:
        with transaction.atomic():
            return model.objects.create(project_id=project_id, name=name)
    except IntegrityError:
        return model.objects.filter(name_is(name), project_id=project_id).get()


def named_rows(model, project_id, names):
    """The project's rows of `model` with these names (case-insensitive), created when new;
    one query when they all exist."""
    wanted = {name.lower(): name for name in names}
    if not wanted:
        return []
    rows = select_models(
        named_query(model, len(wanted)),
        [project_id, *wanted.values()],
        ((model, NAMED_FIELDS[model]),),
    )
    found = {row.name.lower(): row for (row,) in rows}
    return [
        found.get(lowered) or named_row(model, project_id, name) for lowered, name in wanted.items()
    ]


@cache
def named_query(model, count):
    """The project's rows of `model` with any of `count` names, whatever the case (LOWER on
    both sides, as picky.names.name_in)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    return (
        f"SELECT {selected_columns(table, NAMED_FIELDS[model])} FROM {table} "
        f"WHERE project_id = %s AND LOWER(name) IN ({', '.join(['LOWER(%s)'] * count)})"
    )


# Tagging -----------------------------------------------------------------------------


def link_named_tags(contact, names):
    """Tag `contact` with the project's tags `names` (created when new, `names` told apart
    by case-insensitive name); the tags, in the order of `names`.

    Links already there are skipped, as `contact.tags.add()` does (no m2m_changed
    receivers exist for tags). On PostgreSQL the tags that exist are found and linked
    in one statement, and new ones are created and linked in one more: a run tags its
    contact with one round trip, two when it brings a new tag.
    """
    wanted = {name.lower(): name for name in names}
    if not wanted:
        return []
    if connection.vendor != "postgresql":
        tags = named_rows(Tag, contact.project_id, wanted.values())
        link_tags(contact, tags)
        return tags
    rows = select_models(
        find_and_link_tags_query(len(wanted)),
        [contact.project_id, *wanted.values(), contact.pk],
        ((Tag, NAMED_FIELDS[Tag]),),
    )
    found = {tag.name.lower(): tag for (tag,) in rows}
    missing = [name for lowered, name in wanted.items() if lowered not in found]
    if missing:
        found.update(create_and_link_tags(contact, missing))
    return [found[lowered] for lowered in wanted]


def create_and_link_tags(contact, names):
    """PostgreSQL: create the project's tags `names` (none exists, whatever the case) and
    link them to `contact`, in one statement; {lower-cased name: tag}. A name that a
    concurrent run created first is left by the INSERT and found afterwards."""
    rows = select_models(
        create_and_link_tags_query(len(names)),
        [*(value for name in names for value in (contact.project_id, name)), contact.pk],
        ((Tag, NAMED_FIELDS[Tag]),),
    )
    created = {tag.name.lower(): tag for (tag,) in rows}
    raced = [
        named_row(Tag, contact.project_id, name) for name in names if name.lower() not in created
    ]
    link_tags(contact, raced)
    created.update((tag.name.lower(), tag) for tag in raced)
    return created


def link_tags(contact, tags):
    """One INSERT of the links of `contact` to `tags`, skipping those already there."""
    if not tags:
        return
    link_table = connection.ops.quote_name(Contact.tags.through._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {link_table} (contact_id, tag_id) VALUES "
            + ", ".join(["(%s, %s)"] * len(tags))
            + " ON CONFLICT DO NOTHING",
            [value for tag in tags for value in (contact.pk, tag.pk)],
        )


@cache
def find_and_link_tags_query(count):
    """PostgreSQL: the project's tags with any of `count` names (whatever the case), each linked
    to a contact (its id the last parameter) as the statement reads them."""
    link_table = connection.ops.quote_name(Contact.tags.through._meta.db_table)
    return (
        f"WITH found AS ({named_query(Tag, count)}), "
        f"linked AS (INSERT INTO {link_table} (contact_id, tag_id) "
        "SELECT %s, id FROM found ON CONFLICT DO NOTHING) "
        "SELECT * FROM found"
    )


@cache
def create_and_link_tags_query(count):
    """PostgreSQL: INSERT `count` tags (project id and name parameters in turn), skipping
    names taken meanwhile, each linked to a contact (its id the last parameter)."""
    quote = connection.ops.quote_name
    table = quote(Tag._meta.db_table)
    link_table = quote(Contact.tags.through._meta.db_table)
    return (
        f"WITH created AS (INSERT INTO {table} (project_id, name) VALUES "
        + ", ".join(["(%s, %s)"] * count)
        + f" ON CONFLICT DO NOTHING RETURNING {selected_columns(table, NAMED_FIELDS[Tag])}), "
        f"linked AS (INSERT INTO {link_table} (contact_id, tag_id) "
        "SELECT %s, id FROM created ON CONFLICT DO NOTHING) "
        "SELECT * FROM created"
    )
