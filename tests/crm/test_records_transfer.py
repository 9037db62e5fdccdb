import csv
import io

import pytest

from crm.models import Field, Record
from crm.records.services import add_record, timeline_of
from crm.records.transfer import ImportInterrupted, export_records, import_records
from crm.records.values import RecordError

CSV = """Title,Value,Stage,Ignored
Big order,"1,200.50",proposal,x
,5,Won,x
Small order,lots,Won,x
Tiny order,,,x
"""


@pytest.fixture
def deals(project):
    return project.modules.get(name="Deals")


def rows_of(text):
    return csv.DictReader(io.StringIO(text))


MAPPING = {"Title": "title", "Value": "amount", "Stage": "stage", "Ignored": ""}


def test_an_import_writes_good_rows_and_says_why_others_were_refused(deals, teammate):
    report = import_records(deals, rows_of(CSV), MAPPING, author=teammate)
    assert report == {
        "created": 2,
        "updated": 0,
        "rows": 4,
        "refused": [
            (3, "A value is required for Title."),
            (4, "Amount: 'lots' is not a number."),
        ],
    }
    big = Record.objects.get(module=deals, data__title="Big order")
    assert big.data == {"title": "Big order", "amount": "1200.5", "stage": "Proposal"}
    assert timeline_of(big)[0].text == "Imported"
    assert timeline_of(big)[0].author == teammate


def test_a_mapping_to_an_unknown_field_is_refused_before_anything_is_written(deals):
    with pytest.raises(RecordError, match="Deals has no field colour"):
        import_records(deals, rows_of(CSV), {"Title": "colour"})
    with pytest.raises(RecordError, match="“title” is not a unique field of Deals"):
        import_records(deals, rows_of(CSV), MAPPING, upsert_on="title")
    assert not Record.objects.filter(module=deals).exists()


def unique_email(module):
    Field.objects.create(
        module=module, key="work_email", label="Work e-mail", type="email", unique=True
    )


@pytest.mark.django_db(transaction=True)
def test_an_upsert_import_updates_by_the_unique_field(project):
    leads = project.modules.get(name="Leads")
    Field.objects.create(
        module=leads, key="work_email", label="Work e-mail", type="email", unique=True
    )
    add_record(leads, {"work_email": "asha@example.com", "status": "New"})
    text = (
        "Mail,Status\n"
        "ASHA@example.com,Qualified\n"
        "ben@example.com,New\n"
        "ben@EXAMPLE.com,Contacted\n"
        "bad-address,New\n"
    )
    mapping = {"Mail": "work_email", "Status": "status"}
    report = import_records(leads, rows_of(text), mapping, upsert_on="work_email")
    assert (report["created"], report["updated"]) == (1, 1)
    assert report["refused"] == [(5, "Work e-mail: 'bad-address' is not an e-mail address.")]
    by_mail = {r.data["work_email"]: r.data["status"] for r in Record.objects.filter(module=leads)}
    assert by_mail == {"asha@example.com": "Qualified", "ben@example.com": "Contacted"}


@pytest.mark.django_db(transaction=True)
def test_duplicates_of_a_unique_field_without_upsert_are_refused_row_by_row(project):
    leads = project.modules.get(name="Leads")
    Field.objects.create(
        module=leads, key="work_email", label="Work e-mail", type="email", unique=True
    )
    add_record(leads, {"work_email": "asha@example.com"})
    text = "Mail\nben@example.com\nasha@example.com\ncara@example.com\n"
    report = import_records(leads, rows_of(text), {"Mail": "work_email"})
    assert report["created"] == 2
    assert report["refused"] == [
        (3, "Work e-mail: another record of Leads already has asha@example.com.")
    ]


def test_an_import_that_stops_says_which_rows_went_in(deals, monkeypatch):
    from crm.records import transfer

    monkeypatch.setattr(transfer, "IMPORT_BATCH", 2)

    def rows():
        yield {"Title": "One"}
        yield {"Title": "Two"}
        yield {"Title": "Three"}
        raise OSError("the upload was cut")

    with pytest.raises(ImportInterrupted) as caught:
        import_records(deals, rows(), {"Title": "title"})
    assert (
        "The import stopped at row 4 (the upload was cut). 2 rows before it went in"
        in caught.value.message
    )
    assert caught.value.report["created"] == 2
    assert Record.objects.filter(module=deals).count() == 2


def test_export_gives_a_header_and_one_row_per_record(deals):
    add_record(deals, {"title": "B", "amount": "2", "stage": "Won"})
    add_record(deals, {"title": "A", "amount": "1"})
    rows = list(export_records(deals, sort="title"))
    assert rows[0][:6] == ["id", "title", "amount", "stage", "close_date", "company"]
    assert [row[1:4] for row in rows[1:]] == [["A", "1", ""], ["B", "2", "Won"]]
    won = [[{"field": "stage", "op": "equals", "value": "Won"}]]
    assert len(list(export_records(deals, won))) == 2
