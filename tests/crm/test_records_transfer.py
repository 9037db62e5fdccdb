import csv
import io

import pytest

from crm.models import Field, Module, Record
from crm.records.services import add_record, timeline_of
from crm.records.storage import create_row, find_row, storage_values
from crm.records.transfer import ROW_NAME, ImportInterrupted, export_records, import_records
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
        "The import stopped at row 4 (the file could not be read: the upload was cut). "
        "2 rows before it went in" in caught.value.message
    )
    assert caught.value.report["created"] == 2
    assert Record.objects.filter(module=deals).count() == 2


# Data-storage tables: rows keyed by their name ------------------------------------------


@pytest.fixture
def prices(project):
    table = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=table, key="price", label="Price", type="decimal")
    Field.objects.create(module=table, key="stock", label="Stock", type="number")
    return table


def test_a_storage_import_names_its_rows_as_row_create_does(prices):
    text = "Row,Price\n  gold ,10.50\n,3\nsilver,4\nsilver,5\n" + "x" * 201 + ",1\n"
    report = import_records(prices, rows_of(text), {"Row": ROW_NAME, "Price": "price"})
    assert (report["created"], report["updated"]) == (2, 0)
    assert report["refused"] == [
        (3, "Row name: a value is required (a row is read by its name)."),
        (5, "Prices already has a row named “silver”."),
        (6, "A row name has at most 200 characters."),
    ]
    assert storage_values(prices.project, "prices", "gold")["price"] == "10.5"
    assert find_row(prices, "silver").data == {"price": "4"}


@pytest.mark.django_db(transaction=True)
def test_a_storage_import_matching_on_the_row_name_updates_those_rows(project):
    prices = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=prices, key="price", label="Price", type="decimal")
    Field.objects.create(module=prices, key="stock", label="Stock", type="number")
    create_row(prices, "gold", {"price": "9", "stock": 3})
    text = "name,price\ngold,11\nGold,12\nsilver,4\nsilver,5\n"
    report = import_records(
        prices, rows_of(text), {"name": ROW_NAME, "price": "price"}, upsert_on=ROW_NAME
    )
    assert (report["created"], report["updated"], report["refused"]) == (2, 1, [])
    rows = {row.name: row.data for row in Record.objects.filter(module=prices)}
    # A name is exact, as templates read it: "Gold" is another row than "gold".
    assert rows == {
        "gold": {"price": "11", "stock": 3},
        "Gold": {"price": "12"},
        "silver": {"price": "5"},
    }
    assert timeline_of(find_row(prices, "gold"))[0].text == "Imported: Price: 9 → 11"


def test_a_storage_import_without_a_row_name_column_is_refused(prices):
    with pytest.raises(RecordError, match="Choose the column that goes into Row name"):
        import_records(prices, rows_of("Price\n3\n"), {"Price": "price"})
    with pytest.raises(RecordError, match="Deals has no field name"):
        import_records(prices.project.modules.get(name="Deals"), rows_of("n\nx\n"), {"n": "name"})
    assert not Record.objects.filter(module=prices).exists()


def test_export_gives_a_header_and_one_row_per_record(deals):
    add_record(deals, {"title": "B", "amount": "2", "stage": "Won"})
    add_record(deals, {"title": "A", "amount": "1"})
    rows = list(export_records(deals, sort="title"))
    assert rows[0][:6] == ["id", "title", "amount", "stage", "close_date", "company"]
    assert [row[1:4] for row in rows[1:]] == [["A", "1", ""], ["B", "2", "Won"]]
    won = [[{"field": "stage", "op": "equals", "value": "Won"}]]
    assert len(list(export_records(deals, won))) == 2
