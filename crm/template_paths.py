"""The `contact` namespace as the attribute picker offers it: the keys of
`services.contact_as_context`, and under `attributes` the attribute keys the project's
contacts have."""

from picky.paths import path_node, quote_key

from .models import Contact

CONTACT_KEYS = ("id", "number", "name", "email", "attributes", "tags", "categories", "optouts",
                "owner", "owner_email", "owner_name", "blacklisted", "last_interaction_at",
                "smart_replies_paused_until", "created_at")  # fmt: skip
# Attribute keys are read from the latest contacts only: a page must not read them all.
CONTACTS_READ = 500
MOST_ATTRIBUTE_KEYS = 100


def contact_attribute_keys(projects):
    """The attribute keys of the latest CONTACTS_READ contacts of `projects`, sorted (any
    case), at most MOST_ATTRIBUTE_KEYS."""
    latest = Contact.objects.filter(project__in=projects).order_by("-pk")[:CONTACTS_READ]
    keys = set()
    for attributes in latest.values_list("attributes", flat=True):
        if isinstance(attributes, dict):
            keys.update(str(key) for key in attributes)
    return sorted(keys, key=str.lower)[:MOST_ATTRIBUTE_KEYS]


def contact_group(projects):
    """The picker's group of the contact: `contact.<key>`, and `contact.attributes.<key>`
    for the attribute keys of `projects`' contacts."""
    nodes = []
    for key in CONTACT_KEYS:
        if key == "attributes":
            children = [
                path_node(f"contact.attributes.{quote_key(name)}", name)
                for name in contact_attribute_keys(projects)
            ]
            nodes.append(path_node("contact.attributes", key, "object", children))
        else:
            nodes.append(path_node(f"contact.{key}", key))
    return {"label": "The contact", "nodes": nodes}
