"""group_add_members from parallel runs on PostgreSQL: the family lock keeps every group at
256 members at most and creates each child group once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from connectors import engine
from connectors.models import RunLog
from connectors.services import record_event
from teambox.models import Channel, GroupParticipant, WhatsAppGroup
from tests.builders import build_connector
from tests.waha_gateway import GROUP_LIMIT, WahaGateway

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel: PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

RUNS = 6
PER_RUN = 60


def test_parallel_runs_fill_technology_then_one_child_at_a_time(
    project, httpserver, local_outbound
):
    gateway = WahaGateway(httpserver)
    waha = Channel.objects.create(
        project=project,
        name="Community",
        kind=Channel.Kind.WHATSAPP_WEB,
        credentials={"base_url": httpserver.url_for("/"), "api_key": "waha-secret-key"},
    )
    existing = [f"9180000{n:05d}" for n in range(200)]
    gid = gateway.add_group("Technology", existing)
    technology = WhatsAppGroup.objects.create(channel=waha, gateway_id=gid, subject="Technology")
    GroupParticipant.objects.bulk_create(
        GroupParticipant(group=technology, number=n) for n in existing
    )
    connector = build_connector(
        project,
        steps=[
            {
                "actions": [
                    (
                        "group_add_members",
                        {
                            "channel": "Community",
                            "groups": ["Technology"],
                            "numbers": "{{ event.numbers }}",
                        },
                    )
                ]
            }
        ],
    )
    batches = [[f"9170{r:02d}00{n:04d}" for n in range(PER_RUN)] for r in range(RUNS)]
    events = [
        record_event(connector, {"numbers": batch}, method="POST", headers={}, source_ip=None)
        for batch in batches
    ]
    start = threading.Barrier(RUNS)

    def process(event):
        try:
            start.wait(30)
            return engine.process_event(event.pk).status
        finally:
            connections.close_all()

    with ThreadPoolExecutor(RUNS) as pool:
        statuses = list(pool.map(process, events))
    errors = list(RunLog.objects.exclude(error="").values_list("error", flat=True))
    assert statuses == ["succeeded"] * RUNS, errors
    family = sorted(WhatsAppGroup.objects.all(), key=lambda g: g.position or 0)
    # 200 + 360 members: Technology (256), Technology 1 (256) and Technology 2 (48).
    assert [(g.subject, g.position) for g in family] == [
        ("Technology", None),
        ("Technology 1", 1),
        ("Technology 2", 2),
    ]
    sizes = [len(gateway.members(g.gateway_id)) for g in family]
    assert sizes == [GROUP_LIMIT, GROUP_LIMIT, 200 + RUNS * PER_RUN - 2 * GROUP_LIMIT]
    everyone = [n for g in family for n in gateway.members(g.gateway_id)]
    assert len(everyone) == len(set(everyone)) == 200 + RUNS * PER_RUN
    assert [g.participants.count() for g in family] == sizes
