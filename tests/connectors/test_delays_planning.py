"""Planning a delayed step: due times, time zones, DST, if_past, identifiers, bad input."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from actions.base import ActionContext
from connectors.delays import delay_errors, plan_delay
from connectors.models import Step
from picky.models import Project

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def plan(project, delay, event=None):
    step = Step(name="Reminder", delay=delay)
    ctx = ActionContext(project=project, data={"event": event or {}, "vars": {}, "contact": {}})
    return plan_delay(step, ctx)


@pytest.fixture
def new_york(db):
    return Project.objects.create(name="NY", slug="ny", time_zone="America/New_York")


@pytest.mark.django_db
class TestFixed:
    @time_machine.travel(datetime(2025, 3, 10, 4, 30, tzinfo=UTC), tick=False)
    def test_minutes_hours_days_weeks(self, project):
        expected = {
            "minutes": datetime(2025, 3, 10, 4, 45, tzinfo=UTC),
            "hours": datetime(2025, 3, 10, 19, 30, tzinfo=UTC),
            "days": datetime(2025, 3, 25, 4, 30, tzinfo=UTC),
            "weeks": datetime(2025, 6, 23, 4, 30, tzinfo=UTC),
        }
        for unit, due in expected.items():
            result = plan(project, {"mode": "fixed", "amount": 15, "unit": unit})
            assert result.decision == "park", unit
            assert result.due_at == due, unit

    @time_machine.travel(datetime(2025, 3, 8, 15, 0, tzinfo=UTC), tick=False)
    def test_days_keep_the_wall_clock_across_dst(self, new_york):
        # 10:00 EST on Saturday; DST starts on Sunday 9 March 2025.
        result = plan(new_york, {"mode": "fixed", "amount": 3, "unit": "days"})
        assert result.due_at == datetime(2025, 3, 11, 10, 0, tzinfo=NEW_YORK)
        assert result.due_at.astimezone(UTC).hour == 14

    @time_machine.travel(datetime(2025, 3, 8, 15, 0, tzinfo=UTC), tick=False)
    def test_hours_are_elapsed_time_across_dst(self, new_york):
        result = plan(new_york, {"mode": "fixed", "amount": 24, "unit": "hours"})
        assert result.due_at == datetime(2025, 3, 9, 15, 0, tzinfo=UTC)
        assert result.due_at.astimezone(NEW_YORK).hour == 11  # the clock jumped an hour

    @time_machine.travel(datetime(2025, 3, 10, 6, 0, tzinfo=UTC), tick=False)
    def test_days_later_at_a_time_of_day(self, project):
        # 11:30 in Kolkata now; 2 days later at 09:00 Kolkata.
        result = plan(project, {"mode": "fixed", "amount": 2, "unit": "days", "at": "09:00"})
        assert result.due_at == datetime(2025, 3, 12, 9, 0, tzinfo=KOLKATA)

    @time_machine.travel(datetime(2025, 3, 10, 6, 0, tzinfo=UTC), tick=False)
    def test_today_at_a_passed_time_waits_for_tomorrow(self, project):
        result = plan(project, {"mode": "fixed", "amount": 0, "unit": "days", "at": "09:00"})
        assert result.decision == "park"
        assert result.due_at == datetime(2025, 3, 11, 9, 0, tzinfo=KOLKATA)

    @time_machine.travel(datetime(2025, 3, 10, 0, 0, tzinfo=UTC), tick=False)
    def test_null_settings_take_their_defaults(self, project):
        delay = {"mode": "fixed", "amount": 5, "unit": None, "at": None, "identifier": None}
        result = plan(project, delay)
        assert (result.decision, result.identifier) == ("park", "")
        assert result.due_at == datetime(2025, 3, 10, 0, 5, tzinfo=UTC)

    def test_zero_runs_now(self, project):
        result = plan(project, {"mode": "fixed", "amount": 0, "unit": "minutes"})
        assert result.decision == "now"

    @time_machine.travel(datetime(2025, 3, 10, 0, 0, tzinfo=UTC), tick=False)
    def test_amount_from_a_template(self, project):
        delay = {"mode": "fixed", "amount": "{{ event.wait }}", "unit": "hours"}
        assert plan(project, delay, {"wait": "2"}).due_at == datetime(2025, 3, 10, 2, tzinfo=UTC)
        failed = plan(project, delay, {"wait": "soon"})
        assert failed.decision == "fail"
        assert "'soon' is not a number" in failed.reason


@pytest.mark.django_db
class TestRelative:
    START = "2025-03-20T10:00:00+05:30"

    def relative(self, offset, unit, **extra):
        return {
            "mode": "relative",
            "field": "{{ event.webinar.start }}",
            "offset": offset,
            "unit": unit,
            "identifier": "{{ event.meeting_id }}",
            **extra,
        }

    @time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    def test_before_and_after(self, project):
        event = {"webinar": {"start": self.START}, "meeting_id": "M-1"}
        cases = [
            (-2, "days", datetime(2025, 3, 18, 10, 0, tzinfo=KOLKATA)),
            (-5, "hours", datetime(2025, 3, 20, 5, 0, tzinfo=KOLKATA)),
            (-30, "minutes", datetime(2025, 3, 20, 9, 30, tzinfo=KOLKATA)),
            (1, "days", datetime(2025, 3, 21, 10, 0, tzinfo=KOLKATA)),
            (1, "weeks", datetime(2025, 3, 27, 10, 0, tzinfo=KOLKATA)),
        ]
        for offset, unit, due in cases:
            result = plan(project, self.relative(offset, unit), event)
            assert (result.decision, result.due_at, result.identifier) == ("park", due, "M-1")
        assert (
            "2 days before 2025-03-20 10:00 IST"
            in plan(project, self.relative(-2, "days"), event).reason
        )

    @time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    def test_on_the_date_at_nine(self, project):
        delay = self.relative(0, "days", at="09:00")
        result = plan(project, delay, {"webinar": {"start": "2025-03-20"}})
        assert result.due_at == datetime(2025, 3, 20, 9, 0, tzinfo=KOLKATA)
        day_before = plan(
            project, self.relative(-1, "days", at="18:30"), {"webinar": {"start": self.START}}
        )
        assert day_before.due_at == datetime(2025, 3, 19, 18, 30, tzinfo=KOLKATA)

    @time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    def test_date_forms(self, project):
        noon_kolkata = datetime(2025, 3, 20, 12, 0, tzinfo=KOLKATA)
        forms = {
            "2025-03-20 12:00": noon_kolkata,
            "2025-03-20T12:00:00": noon_kolkata,
            "2025-03-20T06:30:00Z": noon_kolkata,
            "2025-03-20T02:30:00-04:00": noon_kolkata,
            "Thu, 20 Mar 2025 06:30:00 +0000": noon_kolkata,
            "March 20, 2025 12:00 PM": noon_kolkata,
            "2025-03-20": datetime(2025, 3, 20, 0, 0, tzinfo=KOLKATA),
            "20250320": datetime(2025, 3, 20, 0, 0, tzinfo=KOLKATA),
            1742452200: noon_kolkata,
            "1742452200": noon_kolkata,
            1742452200000: noon_kolkata,
            "1742452200000": noon_kolkata,
            1742452200.5: datetime(2025, 3, 20, 12, 0, 0, 500000, tzinfo=KOLKATA),
        }
        for value, due in forms.items():
            result = plan(project, self.relative(0, "minutes"), {"webinar": {"start": value}})
            assert result.decision == "park", value
            assert result.due_at == due, value

    @time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    def test_day_first(self, project):
        event = {"webinar": {"start": "03/04/2025 10:00"}}
        month_first = plan(project, self.relative(0, "minutes"), event)
        day_first = plan(project, self.relative(0, "minutes", day_first=True), event)
        assert month_first.due_at == datetime(2025, 3, 4, 10, 0, tzinfo=KOLKATA)
        assert day_first.due_at == datetime(2025, 4, 3, 10, 0, tzinfo=KOLKATA)

    @time_machine.travel(datetime(2025, 3, 1, tzinfo=UTC), tick=False)
    def test_naive_times_in_the_project_zone_with_dst(self, new_york):
        # 02:30 does not exist on 9 March 2025 in New York: it moves to 03:30 EDT.
        gap = plan(
            new_york, self.relative(0, "minutes"), {"webinar": {"start": "2025-03-09 02:30"}}
        )
        assert gap.due_at == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)
        # 01:30 happens twice on 2 November 2025: the first (EDT) is taken.
        fold = plan(
            new_york, self.relative(0, "minutes"), {"webinar": {"start": "2025-11-02 01:30"}}
        )
        assert fold.due_at == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
        # A day before 10:00 on the Monday after the change is 10:00 EDT on Sunday.
        day_before = plan(
            new_york, self.relative(-1, "days"), {"webinar": {"start": "2025-03-10 10:00"}}
        )
        assert day_before.due_at == datetime(2025, 3, 9, 14, 0, tzinfo=UTC)
        # Two hours before 03:00 EDT on the change day is 00:00 EST (only one hour of wall).
        hours_before = plan(
            new_york, self.relative(-2, "hours"), {"webinar": {"start": "2025-03-09 03:00"}}
        )
        assert hours_before.due_at == datetime(2025, 3, 9, 5, 0, tzinfo=UTC)

    @time_machine.travel(datetime(2025, 3, 20, 6, 0, tzinfo=UTC), tick=False)
    def test_if_past(self, project):
        # Now is 11:30 in Kolkata: 2 hours before 10:00 has passed.
        event = {"webinar": {"start": self.START}, "meeting_id": "M-1"}
        default = plan(project, self.relative(-2, "hours"), event)
        assert default.decision == "now"
        for if_past, decision in (("run_now", "now"), ("skip", "skip"), ("stop", "stop")):
            result = plan(project, self.relative(-2, "hours", if_past=if_past), event)
            assert result.decision == decision
            assert "has passed" in result.reason
            assert result.identifier == "M-1"

    def test_unreadable_date_fails_with_a_clear_reason(self, project):
        for value, words in (
            ("next tuesday-ish", "Cannot read 'next tuesday-ish' as a date"),
            ("", "The date is empty"),
            (None, "empty"),
            ({"a": 1}, "is not a date"),
            (10**20, "out of range"),
        ):
            result = plan(project, self.relative(-2, "hours"), {"webinar": {"start": value}})
            assert result.decision == "fail", value
            assert "{{ event.webinar.start }}" in result.reason
            assert words in result.reason, result.reason

    def test_out_of_range_offsets_fail_clearly(self, project):
        event = {"webinar": {"start": "2025-03-20"}, "n": 10**9}
        result = plan(project, self.relative("{{ event.n }}", "weeks"), event)
        assert result.decision == "fail"
        assert "by 1e+09 weeks is out of range" in result.reason

    @time_machine.travel(datetime(2025, 10, 1, tzinfo=UTC), tick=False)
    def test_the_second_of_a_repeated_hour_is_kept(self, new_york):
        # 05:30 UTC on 2 November 2025 is 01:30 EDT... and 06:30 UTC is 01:30 EST.
        event = {"webinar": {"start": "2025-11-02T06:30:00Z"}}
        result = plan(new_york, self.relative(0, "days"), event)
        assert result.due_at == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)

    def test_long_identifier_is_cut(self, project):
        event = {"webinar": {"start": "2999-01-01"}, "meeting_id": "x" * 300}
        assert plan(project, self.relative(0, "days"), event).identifier == "x" * 255


class TestConfigErrors:
    def test_valid_shapes(self):
        assert delay_errors(None) == {}
        nulls = {"unit": None, "at": None, "identifier": None, "if_past": None, "offset": None}
        assert delay_errors({"mode": "relative", "field": "{{ event.d }}", **nulls}) == {}
        assert delay_errors({"mode": "fixed", "amount": 3, "unit": "days"}) == {}
        assert (
            delay_errors(
                {
                    "mode": "relative",
                    "field": "{{ event.start }}",
                    "offset": -2,
                    "unit": "hours",
                    "identifier": "{{ event.id }}",
                    "if_past": "skip",
                }
            )
            == {}
        )

    def test_each_mistake_is_named(self):
        assert delay_errors([]) == {"delay": "The delay must be an object or null."}
        errors = delay_errors(
            {
                "mode": "relative",
                "field": "",
                "offset": "two",
                "unit": "fortnights",
                "at": "25:00",
                "if_past": "later",
                "identifier": "{{ a[ }}",
            }
        )
        assert set(errors) == {"field", "offset", "unit", "at", "if_past", "identifier"}
        assert "fortnights" in errors["unit"]
        assert delay_errors({"mode": "fixed", "unit": "days"}) == {
            "amount": "The amount is required (a number)."
        }
        assert set(delay_errors({"mode": "fixed", "amount": 1, "ofset": 2})) == {"ofset"}
        assert "day_first" in delay_errors(
            {"mode": "relative", "field": "{{ event.d }}", "day_first": "yes"}
        )
        assert "negative" in delay_errors({"mode": "fixed", "amount": -1})["amount"]
        assert (
            "days or weeks"
            in delay_errors({"mode": "fixed", "amount": 1, "unit": "hours", "at": "09:00"})["at"]
        )
        assert "mode" in delay_errors({"amount": 1})

    @pytest.mark.django_db
    def test_invalid_config_fails_the_step(self, project):
        result = plan(project, {"mode": "fixed", "amount": 1, "unit": "fortnights"})
        assert result.decision == "fail"
        assert "unit: Unknown unit 'fortnights'" in result.reason
