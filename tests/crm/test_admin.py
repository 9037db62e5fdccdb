"""The contact admin: search, filters, the contact page, tenant isolation."""

import pytest

from crm import services as crm
from crm.models import Contact, Note
from teambox.models import Channel, Message


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def contacts(project):
    asha = crm.upsert_contact(project, "919847012345", name="Asha", attributes={"state": "Kerala"})
    ravi = crm.upsert_contact(project, "919800000077", name="Ravi", attributes={"state": "Goa"})
    crm.add_tags(asha, ["VIP"])
    return asha, ravi


def names(response):
    return {str(contact) for contact in response.context["cl"].result_list}


def test_search_and_filters(logged_in, contacts):
    asha, ravi = contacts
    assert names(logged_in.get("/admin/crm/contact/", {"q": "98470"})) == {"Asha"}
    tag = asha.tags.get()
    assert names(logged_in.get("/admin/crm/contact/", {"tags__id__exact": tag.pk})) == {"Asha"}
    by_attribute = logged_in.get("/admin/crm/contact/", {"attribute": "state=Goa"})
    assert names(by_attribute) == {"Ravi"}
    assert 'value="state=Goa"' in by_attribute.content.decode()
    assert names(logged_in.get("/admin/crm/contact/", {"attribute": "state"})) == {"Asha", "Ravi"}


def test_contact_page_shows_notes_messages_and_runs(logged_in, project, contacts):
    asha, _ = contacts
    crm.add_note(asha, "Prefers evening calls")
    channel = Channel.objects.create(project=project, name="Sandbox", kind="sandbox")
    Message.objects.create(
        project=project,
        channel=channel,
        contact=asha,
        direction="out",
        address=asha.number,
        body="Your lamp has shipped",
        status="delivered",
    )
    page = logged_in.get(f"/admin/crm/contact/{asha.pk}/change/").content.decode()
    assert "Prefers evening calls" in page
    assert "Your lamp has shipped" in page
    assert "No runs yet." in page


def test_adding_a_contact_normalises_and_validates(logged_in, project):
    form = {
        "project": project.pk,
        "number": "+91 98470 12345",
        "name": "Asha",
        "email": "ASHA@Example.com",
        "attributes": "{}",
        "notes-TOTAL_FORMS": 1,
        "notes-INITIAL_FORMS": 0,
        "notes-0-text": "Met at the fair",
        "reminders-TOTAL_FORMS": 0,
        "reminders-INITIAL_FORMS": 0,
        "optout_set-TOTAL_FORMS": 0,
        "optout_set-INITIAL_FORMS": 0,
    }
    bad = logged_in.post("/admin/crm/contact/add/", {**form, "number": "12"})
    assert "is not a WhatsApp number" in bad.content.decode()
    response = logged_in.post("/admin/crm/contact/add/", form)
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.number, contact.email) == ("919847012345", "asha@example.com")
    note = Note.objects.get()
    assert (note.project_id, note.author.username) == (project.pk, "member")


def test_another_projects_contact_is_invisible(logged_in, other_project):
    theirs = crm.upsert_contact(other_project, "919847012345", name="Theirs")
    assert names(logged_in.get("/admin/crm/contact/")) == set()
    response = logged_in.get(f"/admin/crm/contact/{theirs.pk}/change/")
    assert response.status_code == 302  # "does not exist" redirect to the admin index
    logged_in.post(f"/admin/crm/contact/{theirs.pk}/change/", {"name": "Hacked"})
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_owner_choices_are_project_members(logged_in, project, other_project, member):
    from django.contrib.auth import get_user_model

    from picky.models import Membership

    stranger = get_user_model().objects.create_user("stranger")
    Membership.objects.create(project=other_project, user=stranger)
    page = logged_in.get("/admin/crm/contact/add/")
    choices = {str(user) for user in page.context["adminform"].form.fields["owner"].queryset}
    assert choices == {"member"}
