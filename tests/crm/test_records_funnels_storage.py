import threading

import pytest
from django.db import connection

from crm.models import Field, Funnel, FunnelMove, FunnelPlacement, FunnelStage, Module, Record
from crm.records.funnels import (
    add_to_funnel,
    find_funnel,
    find_stage,
    move_in_funnel,
    remove_from_funnel,
    unknown_funnel_message,
)
from crm.records.services import add_record, timeline_of
from crm.records.storage import (
    create_row,
    delete_row,
    empty_row,
    find_table,
    storage_values,
    update_row,
)
from crm.records.values import DuplicateError, RecordError


@pytest.fixture
def pipeline(project):
    deals = project.modules.get(name="Deals")
    funnel = Funnel.objects.create(module=deals, name="Sales")
    for position, name in enumerate(["Lead", "Proposal", "Won"]):
        FunnelStage.objects.create(funnel=funnel, name=name, position=position)
    return funnel


@pytest.fixture
def deal(pipeline):
    return add_record(pipeline.module, {"title": "Big order"})


def stages(funnel, record):
    return [
        (m.from_stage and m.from_stage.name, m.to_stage and m.to_stage.name)
        for m in FunnelMove.objects.filter(funnel=funnel, record=record).order_by("id")
    ]


def test_funnels_and_stages_are_found_by_name(project, pipeline):
    assert find_funnel(project, "sales") == pipeline
    assert find_funnel(pipeline.module, "SALES") == pipeline
    assert find_funnel(project.modules.get(name="Leads"), "Sales") is None
    assert unknown_funnel_message(project, "Support") == (
        "There is no funnel “Support”. Its funnels: Sales."
    )
    assert find_stage(pipeline, "won").name == "Won"
    with pytest.raises(RecordError, match="Sales has no stage “Lost”. Its stages: Lead, Proposal"):
        find_stage(pipeline, "Lost")


def test_moves_are_rows_and_timeline_lines(pipeline, deal, teammate):
    add_to_funnel(pipeline, deal, "Lead", author=teammate)
    add_to_funnel(pipeline, deal, "Won", unless_present=True)
    move_in_funnel(pipeline, deal, "Proposal")
    move_in_funnel(pipeline, deal, "Proposal")
    assert FunnelPlacement.objects.get(funnel=pipeline, record=deal).stage.name == "Proposal"
    assert remove_from_funnel(pipeline, deal) is True
    assert remove_from_funnel(pipeline, deal) is False
    assert stages(pipeline, deal) == [(None, "Lead"), ("Lead", "Proposal"), ("Proposal", None)]
    assert [e.text for e in timeline_of(deal) if e.kind == "funnel_move"] == [
        "Sales: left (was at Proposal)",
        "Sales: Lead → Proposal",
        "Sales: entered at Lead",
    ]
    assert FunnelMove.objects.filter(record=deal).order_by("id").first().author == teammate


def test_a_record_of_another_module_is_refused(project, pipeline):
    lead = add_record(project.modules.get(name="Leads"), {})
    with pytest.raises(RecordError, match="Sales is a funnel of Deals; record .* is one of Leads"):
        add_to_funnel(pipeline, lead, "Lead")


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_put_the_record_in_once(project):
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections need PostgreSQL")
    deals = project.modules.get(name="Deals")
    funnel = Funnel.objects.create(module=deals, name="Sales")
    FunnelStage.objects.create(funnel=funnel, name="Lead")
    deal = add_record(deals, {"title": "x"})
    barrier, failures = threading.Barrier(3), []

    def add():
        try:
            barrier.wait()
            add_to_funnel(funnel, deal, "Lead", unless_present=True)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert FunnelPlacement.objects.filter(record=deal).count() == 1
    assert FunnelMove.objects.filter(record=deal).count() == 1


# Data storage ---------------------------------------------------------------------------


@pytest.fixture
def prices(project):
    table = Module.objects.create(project=project, name="Prices", kind="storage")
    Field.objects.create(module=table, key="rate", label="Rate", type="decimal")
    Field.objects.create(module=table, key="note", label="Note", type="text")
    return table


def test_rows_are_created_updated_emptied_and_deleted_by_name(project, prices):
    assert find_table(project, "prices") == prices
    create_row(prices, "gold", {"rate": "6100.50", "note": "per gram"})
    assert storage_values(project, "Prices", "gold")["rate"] == "6100.5"
    update_row(prices, "gold", {"rate": 6200})
    assert storage_values(project, "prices", "gold")["rate"] == "6200"
    row = empty_row(prices, "gold")
    assert row.data == {} and Record.objects.filter(module=prices, name="gold").exists()
    assert timeline_of(row)[0].text.startswith("Emptied: Rate: 6200 → (empty)")
    delete_row(prices, "gold")
    assert storage_values(project, "Prices", "gold") == {}
    assert storage_values(project, "Nothing", "gold") == {}


def test_bad_row_writes_say_what_is_wrong(project, prices):
    create_row(prices, "gold", {})
    with pytest.raises(DuplicateError, match="Prices already has a row named “gold”"):
        create_row(prices, "gold", {})
    with pytest.raises(RecordError, match="Prices has no row “silver”"):
        update_row(prices, "silver", {"rate": 1})
    with pytest.raises(RecordError, match="Name the row"):
        create_row(prices, " ", {})
    with pytest.raises(RecordError, match="Rate: 'cheap' is not a number"):
        update_row(prices, "gold", {"rate": "cheap"})
    with pytest.raises(RecordError, match="There is no data storage table “Rates”. Its data"):
        find_table(project, "Rates")
