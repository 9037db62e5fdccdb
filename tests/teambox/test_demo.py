"""The `make run` demo: a lead posted to the demo connector is thanked on the sandbox."""

import pytest

from actions.models import Action
from connectors.models import Step
from picky.demo import DEMO_PASSWORD, DEMO_USERNAME, setup_demo
from teambox.models import Channel, Message

LEAD = {
    "name": "Asha Rao",
    "email": "asha@example.com",
    "phone": "+91 98470 12345",
    "state": "Kerala",
    "product": "Solar Lamp",
    "message": "Please call me",
}


@pytest.mark.django_db
def test_the_demo_thanks_the_lead_and_the_message_shows_in_the_admin(
    client, eager_celery, django_capture_on_commit_callbacks
):
    connector = setup_demo()
    assert setup_demo() == connector  # idempotent
    assert Channel.objects.get().kind == Channel.Kind.SANDBOX
    assert Step.objects.filter(connector=connector).count() == 1
    assert Action.objects.get().type == "send_message"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(connector.path, data=LEAD, content_type="application/json")
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.address == "919847012345"
    assert message.body == (
        "Hi Asha Rao, thanks for asking about Solar Lamp! We will call you soon."
    )
    assert message.status == Message.Status.DELIVERED

    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    listing = client.get("/admin/teambox/message/")
    assert listing.status_code == 200
    assert "Hi Asha Rao, thanks for asking about Solar Lamp!" in listing.content.decode()
    page = client.get(f"/admin/crm/contact/{message.contact_id}/change/")
    assert "Hi Asha Rao, thanks for asking" in page.content.decode()


@pytest.mark.django_db
def test_the_demo_login_is_the_projects_owner_and_sees_no_internals(client):
    setup_demo()
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    index = client.get("/admin/").content.decode()
    assert "/admin/connectors/connector/" in index
    assert "/admin/django_celery_beat/" not in index and "/admin/auth/group/" not in index
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403
