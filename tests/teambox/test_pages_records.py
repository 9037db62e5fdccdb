"""CRM records in the agents' pages (teambox/pages/records.py): a record's page by its
module's agent access (none: 404, read: its values, edit: its form), the edit form
refusing wrong values at their fields, a macro button's form sent by trigger_macro, the
notifications drawer linking records and the contact panel listing the contact's."""

import pytest
from django.test import Client
from django.urls import reverse

from crm import services as crm
from crm.records import services as records
from crm.records.funnels import add_to_funnel
from crm.records.models import Field, Funnel, FunnelStage, MacroButton, Module, RecordEntry
from crm.signals import macro_submitted
from picky.models import Membership
from teambox.assignment import assign_users
from teambox.conversations import open_conversation
from teambox.models import Notification
from teambox.notifications import notify_agents
from tests.builders import build_agent

pytestmark = pytest.mark.django_db

Access = Module.AgentAccess


@pytest.fixture
def clinic(project, sandbox):
    """Patients (agents may read) with a "Follow up" macro button, a Payroll module
    agents may not see, agents anita and bala, admin meera, and Asha's chat with anita."""
    patients = Module.objects.create(project=project, name="Patients", agent_access=Access.READ)
    fields = [
        ("full_name", "Full name", "text", {"required": True}),
        ("status", "Status", "choice", {"choices": ["New", "Follow-up", "Discharged"]}),
        ("next_visit", "Next visit", "date", {}),
        ("visits", "Visits", "number", {}),
        ("history", "History", "long_text", {}),
        ("insured", "Insured", "boolean", {}),
    ]
    for position, (key, label, kind, options) in enumerate(fields):
        Field.objects.create(
            module=patients, key=key, label=label, type=kind, position=position, **options
        )
    payroll = Module.objects.create(project=project, name="Payroll", agent_access=Access.NONE)
    Field.objects.create(module=payroll, key="salary", label="Salary", type="number")
    button = MacroButton.objects.create(
        module=patients, name="Follow up", fields=["status", "next_visit"]
    )
    anita = build_agent(project, "anita").user
    bala = build_agent(project, "bala").user
    meera = build_agent(project, "meera", role=Membership.Role.ADMIN).user
    asha = crm.upsert_contact(project, "919847012345", name="Asha Rao")
    chat, _ = open_conversation(sandbox, asha)
    assign_users(chat, [anita])
    patient = records.add_record(
        patients,
        {
            "full_name": "Asha <b>Rao</b>",
            "status": "New",
            "visits": 2,
            "history": "<script>x</script>",
        },
        contact=asha,
    )
    salary = records.add_record(payroll, {"salary": 5000}, contact=asha)
    return {
        "patients": patients, "payroll": payroll, "button": button, "anita": anita,
        "bala": bala, "meera": meera, "asha": asha, "chat": chat, "patient": patient,
        "salary": salary,
    }  # fmt: skip


def page(project, record):
    return reverse("teambox_pages:record", args=[project.slug, record.pk])


def macro_page(project, record, button):
    return reverse("teambox_pages:record_macro", args=[project.slug, record.pk, button.pk])


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def send_macro(project, user, record, button):
    [notification] = notify_agents(
        project, [user], f"{button}: {record}", record_id=str(record.pk), macro_button=button
    )
    return notification


class TestRecordPage:
    def test_an_agent_reads_a_record_of_a_readable_module_escaped(self, project, clinic):
        care = Funnel.objects.create(module=clinic["patients"], name="Care")
        for position, name in enumerate(["Booked", "Treated"]):
            FunnelStage.objects.create(funnel=care, name=name, position=position)
        add_to_funnel(care, clinic["patient"], "Treated")

        response = logged_in(clinic["anita"]).get(page(project, clinic["patient"]))

        assert response.status_code == 200
        text = response.content.decode()
        assert "Asha &lt;b&gt;Rao&lt;/b&gt;" in text and "<b>Rao" not in text
        assert "&lt;script&gt;x&lt;/script&gt;" in text and "<script>x" not in text
        assert "<dt>Visits</dt>" in text and "<dd>2</dd>" in text
        assert 'id="record-form"' not in text  # read only
        funnels = text.split('id="record-funnels"')[1].split("</ul>")[0]
        assert (
            "<span>Care</span>" in funnels and '<span class="pill stage">Treated</span>' in funnels
        )
        assert "Created" in text  # the timeline's first line
        # The record's contact links to the chat the agent may open.
        chat_url = reverse("teambox_pages:conversation", args=[project.slug, clinic["chat"].pk])
        assert f'href="{chat_url}"' in text

    def test_a_module_agents_may_not_read_answers_404_and_others_too(
        self, project, other_project, clinic
    ):
        anita = logged_in(clinic["anita"])
        assert anita.get(page(project, clinic["salary"])).status_code == 404
        foreign = records.add_record(
            Module.objects.get(project=other_project, name="Deals"), {"title": "Not yours"}
        )
        assert anita.get(page(project, foreign)).status_code == 404
        assert anita.get(f"/teambox/{project.slug}/records/{10**20}/").status_code == 404
        # An admin reads (and edits) every module's records.
        response = logged_in(clinic["meera"]).get(page(project, clinic["salary"]))
        assert response.status_code == 200 and 'id="record-form"' in response.content.decode()

    def test_a_reader_may_not_post_the_edit_form(self, project, clinic):
        response = logged_in(clinic["anita"]).post(
            page(project, clinic["patient"]), {"full_name": "Changed"}
        )

        assert response.status_code == 403
        clinic["patient"].refresh_from_db()
        assert clinic["patient"].data["full_name"] == "Asha <b>Rao</b>"

    def test_an_editor_saves_the_fields_changed_with_a_timeline_line(self, project, clinic):
        clinic["patients"].agent_access = Access.EDIT
        clinic["patients"].save()
        anita, patient = logged_in(clinic["anita"]), clinic["patient"]
        form = anita.get(page(project, patient)).context["form"]
        data = {key: value for key, value in form.initial.items() if value not in ("", [])}

        response = anita.post(
            page(project, patient), {**data, "visits": "3", "next_visit": "2030-01-02"}
        )

        assert response.status_code == 302
        patient.refresh_from_db()
        assert (patient.data["visits"], patient.data["next_visit"]) == (3, "2030-01-02")
        assert patient.data["full_name"] == "Asha <b>Rao</b>"
        change = RecordEntry.objects.filter(record=patient).order_by("-pk").first()
        assert change.author == clinic["anita"]
        assert change.text == "Next visit: (empty) → 2030-01-02; Visits: 2 → 3"

    def test_wrong_values_are_refused_at_their_fields_and_nothing_is_saved(self, project, clinic):
        patient = clinic["patient"]
        response = logged_in(clinic["meera"]).post(
            page(project, patient),
            {"full_name": "", "visits": "many", "status": "New", "insured": "true"},
        )

        assert response.status_code == 400
        form = response.context["form"]
        assert form.errors["visits"] == ["Visits: 'many' is not a number."]
        assert form.errors["full_name"] == ["Full name: a value is required."]
        assert "The record was not saved" in response.content.decode()
        patient.refresh_from_db()
        assert (patient.data["visits"], patient.data.get("insured")) == (2, None)


class TestMacroButton:
    def test_the_agent_sent_the_button_fills_its_form_and_the_record_changes(
        self, project, clinic, django_capture_on_commit_callbacks
    ):
        patient, button = clinic["patient"], clinic["button"]
        notification = send_macro(project, clinic["anita"], patient, button)
        submitted = []
        macro_submitted.connect(collect := lambda **kwargs: submitted.append(kwargs))
        anita = logged_in(clinic["anita"])

        form = anita.get(macro_page(project, patient, button))
        text = form.content.decode()
        assert form.status_code == 200
        assert list(form.context["form"].fields) == ["status", "next_visit"]
        assert '<option value="New" selected>New</option>' in text
        assert 'name="visits"' not in text
        try:
            with django_capture_on_commit_callbacks(execute=True):
                response = anita.post(
                    macro_page(project, patient, button),
                    {"status": "Follow-up", "next_visit": "2030-03-01"},
                )
        finally:
            macro_submitted.disconnect(collect)

        assert response.status_code == 302
        assert response["Location"] == page(project, patient)
        patient.refresh_from_db()
        assert (patient.data["status"], patient.data["next_visit"]) == ("Follow-up", "2030-03-01")
        macro = RecordEntry.objects.get(record=patient, kind=RecordEntry.Kind.MACRO)
        assert (macro.text, macro.author) == ("Anita submitted Follow up.", clinic["anita"])
        notification.refresh_from_db()
        assert notification.read_at is not None
        [signal] = submitted
        assert (signal["button"], signal["author"], signal["entry_id"]) == (
            button,
            clinic["anita"],
            macro.pk,
        )
        assert signal["record"]["status"] == "Follow-up"

    def test_a_button_without_fields_is_submitted_as_it_is(self, project, clinic):
        patient = clinic["patient"]
        discharge = MacroButton.objects.create(module=clinic["patients"], name="Discharge")
        notification = send_macro(project, clinic["anita"], patient, discharge)

        response = logged_in(clinic["anita"]).post(macro_page(project, patient, discharge))

        assert response.status_code == 302
        notification.refresh_from_db()
        assert notification.read_at is not None
        assert RecordEntry.objects.get(kind=RecordEntry.Kind.MACRO).text == (
            "Anita submitted Discharge."
        )

    def test_a_reader_not_sent_the_button_gets_404(self, project, clinic):
        send_macro(project, clinic["anita"], clinic["patient"], clinic["button"])
        url = macro_page(project, clinic["patient"], clinic["button"])

        assert logged_in(clinic["bala"]).get(url).status_code == 404
        assert logged_in(clinic["bala"]).post(url, {"status": "New"}).status_code == 404
        # An admin may press any button.
        assert logged_in(clinic["meera"]).get(url).status_code == 200

    def test_a_wrong_value_is_refused_at_its_field_and_the_notification_stays_unread(
        self, project, clinic
    ):
        notification = send_macro(project, clinic["anita"], clinic["patient"], clinic["button"])
        response = logged_in(clinic["anita"]).post(
            macro_page(project, clinic["patient"], clinic["button"]),
            {"status": "New", "next_visit": "next Tuesday-ish"},
        )

        assert response.status_code == 400
        [error] = response.context["form"].errors["next_visit"]
        assert error.startswith("Next visit: ")
        notification.refresh_from_db()
        assert notification.read_at is None
        assert not RecordEntry.objects.filter(kind=RecordEntry.Kind.MACRO).exists()


class TestDrawerAndPanel:
    def test_the_drawer_links_records_the_agent_may_read_and_the_macro_form(self, project, clinic):
        patient, salary, button = clinic["patient"], clinic["salary"], clinic["button"]
        notify_agents(project, [clinic["anita"]], "Check the patient", record_id=str(patient.pk))
        notify_agents(project, [clinic["anita"]], "Check the salary", record_id=str(salary.pk))
        notify_agents(project, [clinic["anita"]], "Old style", record_id="ORD-7")
        send_macro(project, clinic["anita"], patient, button)

        text = (
            logged_in(clinic["anita"])
            .get(reverse("teambox_pages:inbox", args=[project.slug]))
            .content.decode()
        )

        drawer = text.split('id="notification-list"')[1]
        assert f'href="{page(project, patient)}"' in drawer
        assert f'href="{macro_page(project, patient, button)}"' in drawer
        assert f"Follow up: Patients #{patient.pk}</a>" in drawer
        assert page(project, salary) not in drawer
        assert f"Record {salary.pk}</span>" in drawer
        assert "Record ORD-7</span>" in drawer

    def test_the_contact_panel_lists_the_contact_s_readable_records(self, project, clinic):
        chat = clinic["chat"]
        url = reverse("teambox_pages:conversation", args=[project.slug, chat.pk])

        text = logged_in(clinic["anita"]).get(url).content.decode()
        panel = text.split('id="contact-panel"')[1]

        assert "<h3>Records</h3>" in panel
        assert f'href="{page(project, clinic["patient"])}"' in panel
        assert page(project, clinic["salary"]) not in panel
        admin_panel = logged_in(clinic["meera"]).get(url).content.decode()
        assert page(project, clinic["salary"]) in admin_panel.split('id="contact-panel"')[1]


def test_notifications_of_a_deleted_button_still_open_the_record(project, clinic):
    notification = send_macro(project, clinic["anita"], clinic["patient"], clinic["button"])
    clinic["button"].delete()

    notification.refresh_from_db()
    assert notification.macro_button is None
    text = (
        logged_in(clinic["anita"])
        .get(reverse("teambox_pages:inbox", args=[project.slug]))
        .content.decode()
    )
    assert f'href="{page(project, clinic["patient"])}"' in text
    assert Notification.objects.filter(pk=notification.pk).exists()
