"""The attribute picker on the journeys pages (issue 22): sequence messages, a flow's
texts and smart replies offer what their templates are rendered with — the contact (its
attribute keys from the project's contacts), and in a flow the answer and the flow's
name — and their template boxes are marked for it."""

import json
import re

import pytest

from crm.models import Contact
from crm.template_paths import contact_attribute_keys, contact_group
from journeys.replies.models import SmartReply
from journeys.sequences.models import Sequence
from tests.journeys.flow_builders import onboarding

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(project, other_project):
    Contact.objects.create(project=project, number="919847012345", attributes={"city": "Kochi"})
    Contact.objects.create(
        project=project, number="919847012346", attributes={"Plan type": "gold", "city": "Pune"}
    )
    Contact.objects.create(project=other_project, number="919847099999", attributes={"leak": 1})


def paths_of(page):
    """Every path of the page's embedded picker tree."""
    found = re.search(
        r'<script id="picky-paths" type="application/json">(.*?)</script>',
        page.content.decode(),
        re.S,
    )
    assert found, "the page embeds no picker tree"
    paths = []

    def walk(nodes):
        for node in nodes:
            paths.append(node["path"])
            walk(node["children"])

    for group in json.loads(found.group(1)):
        walk(group["nodes"])
    return paths


def marked(html, name):
    """Whether the box named `name` is marked for the attribute picker."""
    box = re.search(rf'<(?:input|textarea)[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert box, f"no box named {name}"
    return "data-picky-template" in box.group(0)


def test_the_contact_group_offers_the_projects_attribute_keys(project, contacts):
    assert contact_attribute_keys([project.pk]) == ["city", "Plan type"]
    attributes = next(
        node for node in contact_group([project.pk])["nodes"] if node["label"] == "attributes"
    )
    assert [child["template"] for child in attributes["children"]] == [
        "{{ contact.attributes.city }}",
        '{{ contact.attributes."Plan type" }}',
    ]


def test_a_sequence_page_offers_the_contact_only(client, member, project, sandbox, contacts):
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    sequence.messages.create(kind="text", text="Hi {{ contact.name }}")
    client.force_login(member)

    page = client.get(f"/admin/journeys/sequence/{sequence.pk}/change/")

    paths = paths_of(page)
    assert "contact.name" in paths and "contact.attributes.city" in paths
    assert "contact.attributes.leak" not in paths  # another project's contact
    # The messages are rendered with the contact only: no now, globals or event.
    assert not [path for path in paths if not path.startswith("contact")]
    html = page.content.decode()
    assert "picky/attribute-picker.js" in html
    for name in ("text", "media_url", "template_params"):
        assert marked(html, f"messages-0-{name}"), name
    assert not marked(html, "messages-0-template")  # a template's name, not a template


def test_a_flow_page_offers_the_answer_and_the_flow(client, member, project, contacts):
    flow = onboarding(project)
    client.force_login(member)

    page = client.get(f"/admin/journeys/flow/{flow.pk}/change/")

    paths = paths_of(page)
    assert {"answer", "flow.name", "contact.attributes.city"} <= set(paths)
    html = page.content.decode()
    for name in ("timeout_message", "steps-0-text", "steps-0-retry_text", "steps-0-tags"):
        assert marked(html, name), name
    assert not marked(html, "steps-0-name")


def test_a_new_smart_reply_offers_the_contacts_of_the_users_projects(
    client, member, project, contacts
):
    client.force_login(member)

    page = client.get("/admin/journeys/smartreply/add/")

    paths = paths_of(page)
    assert "contact.attributes.Plan type" not in paths  # the path is quoted
    assert '"contact.attributes.\\"Plan type\\""' in json.dumps(paths)
    assert "contact.attributes.leak" not in paths and "answer" not in paths
    assert marked(page.content.decode(), "reply")
    assert not marked(page.content.decode(), "name")
    reply = SmartReply.objects.create(project=project, name="Hours", phrases="open", reply="9-5")
    assert "contact.email" in paths_of(client.get(f"/admin/journeys/smartreply/{reply.pk}/change/"))
