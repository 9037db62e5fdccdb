"""The builder's picker offers the contact's attribute keys of the connector's project
(the same contact group as the journeys pages: crm/template_paths.py)."""

import pytest

from connectors.admin.template_paths import picker_tree, scope_for
from crm.models import Contact
from tests.builders import build_connector

pytestmark = pytest.mark.django_db


def test_the_contact_group_lists_the_projects_attribute_keys(project, other_project):
    Contact.objects.create(project=project, number="919847012345", attributes={"city": "Kochi"})
    Contact.objects.create(project=other_project, number="919847099999", attributes={"leak": 1})
    connector = build_connector(project, name="Leads")

    groups = {group["label"]: group["nodes"] for group in picker_tree(scope_for(connector))}

    attributes = next(node for node in groups["The contact"] if node["label"] == "attributes")
    assert [child["path"] for child in attributes["children"]] == ["contact.attributes.city"]
    assert "contact.owner_email" in [node["path"] for node in groups["The contact"]]
