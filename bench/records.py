"""Records: searches, updates and a CSV import on a module of 500,000 records, each
against a bare SQL baseline on the same table.

    .venv/bin/python -m bench.records

Run on PostgreSQL (on SQLite it says so and skips). It uses its own database,
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/picky_bench_records),
creates it when missing and empties it first: never point it at a database you care about.

The module (e-mail unique, status and city choices, score and city sortable, batch,
note, amount)
is seeded with 500,000 records by one INSERT ... SELECT over generate_series, with the
migration's GIN index on `data` in place; the score and e-mail indexes are built by
saving their fields, as in the admin. Then, each figure the median of its runs:
- filter: status and city equal (two choices, ~500 records meet both), sorted by score,
  limit 50: crm.records.services.search_records (target < 5 ms) against the same SELECT
  written by hand;
- search on the note, a field without an index (its time printed; a scan of the module);
- update of 2,000 records by criteria (batch equals k), with their timeline lines:
  update_records (target < 1 s) against one `UPDATE ... SET data = data || ...`;
- CSV import of 100,000 rows (dicts as csv.DictReader gives them): import_records
  (target < 60 s) against a COPY of the same rows, already normalised.
Each ratio is Picky's time over the baseline's (how many times the bare SQL). The last
line is `RESULT name=value ...`.
"""

import os
import statistics
import time

from bench import support

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/picky_bench_records"
RECORDS = int(os.environ.get("BENCH_RECORDS", 500_000))
IMPORT_ROWS = int(os.environ.get("BENCH_RECORDS_IMPORT", 100_000))
UPDATE_BATCH = 2000
RUNS = int(os.environ.get("BENCH_RECORDS_RUNS", 30))
STATUSES = ["New", "Contacted", "Qualified", "Won", "Lost"]
CITIES = [f"City {n}" for n in range(200)]
TARGETS_MS = {"filter": 5.0, "update": 1000.0, "import": 60_000.0}
FILTER = [
    [
        {"field": "status", "op": "equals", "value": "Won"},
        {"field": "city", "op": "equals", "value": "City 3"},
    ]
]
SEED = """
INSERT INTO crm_record (project_id, module_id, data, name, created_at, updated_at)
SELECT %(project)s, %(module)s, jsonb_build_object(
    'email', 'person' || n || '@example.com',
    'status', (ARRAY['New', 'Contacted', 'Qualified', 'Won', 'Lost'])[1 + n %% 5],
    'city', 'City ' || ((n / 7) %% 200),
    'score', (n::bigint * 7919) %% 100000,
    'batch', n / {batch},
    'note', 'note ' || n,
    'amount', ((n %% 100000)::numeric / 100)::text
), '', now(), now()
FROM generate_series(0, %(count)s - 1) AS n
"""


def setup_django(url):
    os.environ.update(
        DJANGO_SETTINGS_MODULE="picky.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", support.BENCH_SECRET_KEY),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    support.setup_django(url, "memory://localhost/")
    support.empty_database()


def seed():
    from django.db import connection

    from crm.models import Field, Module
    from picky.models import Project

    project = Project.objects.create(name="Bench records", slug="bench-records")
    module = Module.objects.create(project=project, name="Contacts book")
    specs = [
        ("email", "email", {}),
        ("status", "choice", {"choices": STATUSES}),
        ("city", "choice", {"choices": CITIES}),
        ("score", "number", {}),
        ("batch", "number", {}),
        ("note", "text", {}),
        ("amount", "decimal", {}),
    ]
    fields = {
        key: Field.objects.create(module=module, key=key, label=key.title(), type=type_, **extra)
        for key, type_, extra in specs
    }
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            SEED.format(batch=UPDATE_BATCH),
            {"project": project.pk, "module": module.pk, "count": RECORDS},
        )
    print(f"seeded {RECORDS:,} records in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    # Saved as the admin saves them: their indexes are built concurrently on commit.
    fields["score"].sortable = True
    fields["score"].save()
    fields["email"].unique = True
    fields["email"].save()
    fields["city"].sortable = True
    fields["city"].save()
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics, and the GIN index's list
        # of pending entries merged (searching it is slow).
        cursor.execute("VACUUM ANALYZE crm_record")
    print(f"built the score, city and e-mail indexes in {time.monotonic() - started:.1f} s")
    return module


def timed(function, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def cpu_per_call(function, runs):
    """This process's CPU time per call (ms): Django's share, whatever the machine's load."""
    started = time.process_time()
    for _ in range(runs):
        function()
    return (time.process_time() - started) * 1000 / runs


def bare(sql, params):
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.description:
                cursor.fetchall()

    return run


def report(figures, key, label, picky_ms, bare_ms, target_ms=None):
    ratio = picky_ms / bare_ms
    line = f"{label:<46} {picky_ms:10.1f} ms   bare SQL {bare_ms:9.1f} ms   ratio {ratio:5.2f}"
    if target_ms is not None:
        line += f"   ({support.against(picky_ms, target_ms, higher_is_better=False)})"
    print(line, flush=True)
    figures[f"{key}_ms"] = picky_ms
    figures[f"{key}_bare_ms"] = bare_ms
    figures[f"{key}_ratio"] = ratio


def measure_filter(module, figures):
    from crm.records.services import search_records

    def picky():
        found = search_records(module, FILTER, sort="score", descending=True, limit=50)
        assert 0 < len(found) <= 50

    # City is sortable: its index finds the records, status filters them.
    sql = (
        "SELECT * FROM crm_record WHERE module_id = %s AND (data ->> 'city') = %s "
        "AND (data ->> 'status') = %s "
        "ORDER BY ((data ->> 'score'))::double precision DESC NULLS FIRST, id DESC LIMIT 50"
    )
    bare_run = bare(sql, [module.pk, "City 3", "Won"])
    picky(), bare_run()  # warm-up
    picky_cpu, bare_cpu = cpu_per_call(picky, RUNS), cpu_per_call(bare_run, RUNS)
    print(f"  CPU of this process per search: {picky_cpu:.1f} ms, bare SQL {bare_cpu:.1f} ms")
    figures["filter_cpu_ms"], figures["filter_bare_cpu_ms"] = picky_cpu, bare_cpu
    report(
        figures,
        "filter",
        "2-field equality, sorted, limit 50",
        timed(picky, RUNS),
        timed(bare_run, RUNS),
        TARGETS_MS["filter"],
    )


def measure_unindexed(module, figures):
    from crm.records.services import search_records

    wanted = f"note {RECORDS - 3}"

    def picky():
        found = search_records(module, [[{"field": "note", "op": "equals", "value": wanted}]])
        assert len(found) == 1, len(found)

    sql = "SELECT * FROM crm_record WHERE module_id = %s AND lower(data ->> 'note') = %s"
    runs = max(3, RUNS // 10)
    report(
        figures,
        "unindexed",
        "search on a field without index",
        timed(picky, runs),
        timed(bare(sql, [module.pk, wanted]), runs),
    )


def measure_update(module, figures):
    from crm.records.services import update_records

    batches = iter(range(RECORDS // UPDATE_BATCH))

    def picky():
        k = next(batches)
        criteria = [[{"field": "batch", "op": "equals", "value": k}]]
        assert update_records(module, criteria, {"note": f"updated {k}"}) == UPDATE_BATCH

    def bare_run():
        k = next(batches)
        bare(
            "UPDATE crm_record SET data = data || jsonb_build_object('note', %s::text), "
            "updated_at = now() WHERE module_id = %s AND data @> %s::jsonb",
            [f"updated {k}", module.pk, f'{{"batch": {k}}}'],
        )()

    runs = 5
    report(
        figures,
        "update",
        f"update of {UPDATE_BATCH:,} records by criteria",
        timed(picky, runs),
        timed(bare_run, runs),
        TARGETS_MS["update"],
    )


def measure_import(module, figures):
    import json

    from django.db import connection
    from django.utils import timezone

    from crm.records.transfer import import_records

    rows = [
        {
            "E-mail": f"Imported{n}@Example.com",
            "Status": STATUSES[n % 5].lower(),
            "City": CITIES[n % 200],
            "Score": str(n),
            "Note": f"imported {n}",
            "Amount": f"{n % 1000}.50",
        }
        for n in range(IMPORT_ROWS)
    ]
    mapping = {
        "E-mail": "email",
        "Status": "status",
        "City": "city",
        "Score": "score",
        "Note": "note",
        "Amount": "amount",
    }
    started = time.perf_counter()
    result = import_records(module, rows, mapping)
    picky_ms = (time.perf_counter() - started) * 1000
    assert result["created"] == IMPORT_ROWS and not result["refused"], result["refused"][:3]
    now = timezone.now()
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY crm_record (project_id, module_id, data, name, created_at, updated_at) FROM STDIN"
        ) as copy,
    ):
        for n in range(IMPORT_ROWS):
            data = {
                "email": f"copied{n}@example.com",
                "status": STATUSES[n % 5],
                "city": CITIES[n % 200],
                "score": n,
                "note": f"imported {n}",
                "amount": f"{n % 1000}.5",
            }
            copy.write_row((module.project_id, module.pk, json.dumps(data), "", now, now))
    bare_ms = (time.perf_counter() - started) * 1000
    report(
        figures,
        "import",
        f"CSV import of {IMPORT_ROWS:,} rows",
        picky_ms,
        bare_ms,
        TARGETS_MS["import"],
    )


def main():
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        print("bench.records measures PostgreSQL's indexes: skipped on this database.")
        print(support.result_line("records", skipped=1))
        return
    support.ensure_services()
    setup_django(url)
    module = seed()
    figures = {}
    measure_filter(module, figures)
    measure_unindexed(module, figures)
    measure_update(module, figures)
    measure_import(module, figures)
    met = (
        figures["filter_ms"] < TARGETS_MS["filter"]
        and figures["update_ms"] < TARGETS_MS["update"]
        and figures["import_ms"] < TARGETS_MS["import"]
    )
    print(support.result_line("records", **figures, records=RECORDS, targets_met=int(met)))


if __name__ == "__main__":
    main()
