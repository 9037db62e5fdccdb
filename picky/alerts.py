"""Throttled alert mail: at most one mail per failing source (e.g. an action) per interval.

A failure is only counted here (`record_failure`, one small UPDATE); the celery-beat task
`picky.tasks.send_alert_emails` calls `send_due_alerts`, which mails every source with
failures whose last mail is older than PICKY_ALERT_INTERVAL_SECONDS (an hour by default):
how many failed since the last mail, and the latest error. `reset_mail_timeout` forgets the
last mail, so the next sweep mails again at once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from .models import AlertState
from .wording import counted

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 5000
SWEEP_BATCH = 500


def record_failure(
    project, source, *, label, error, recipients=(), link="", subject="", mail_interval=None
):
    """Count one failure of `source`; `recipients` empty means the project's alert email.

    By default the mail says "`label` failed N times", at most once per
    PICKY_ALERT_INTERVAL_SECONDS. With a `subject` it has that subject and says "`label` N
    times" (label is then a clause: "The API limit ... was reached"); a `mail_interval`
    (a timedelta) replaces the setting for this source."""
    state, _ = AlertState.objects.get_or_create(
        project=project, source=source, defaults={"label": label[:300]}
    )
    AlertState.objects.filter(pk=state.pk).update(
        pending_failures=F("pending_failures") + 1,
        latest_error=str(error)[:MAX_ERROR_CHARS],
        latest_failure_at=timezone.now(),
        label=label[:300],
        recipients=list(recipients),
        link=link[:500],
        subject=subject[:200],
        mail_interval=mail_interval,
    )


def reset_mail_timeout(project, source):
    """Forget when `source` was last mailed about: its next failure is mailed at once."""
    return AlertState.objects.filter(project=project, source=source).update(last_mailed_at=None)


def alert_state(project, source):
    return AlertState.objects.filter(project=project, source=source).first()


def next_mail_at(state):
    """The earliest time another mail about `state` may go out (None: right away)."""
    if state is None or state.last_mailed_at is None:
        return None
    return state.last_mailed_at + interval(state)


def interval(state=None):
    """How long after a mail about `state` the next may go out."""
    if state is not None and state.mail_interval is not None:
        return state.mail_interval
    return timedelta(seconds=settings.PICKY_ALERT_INTERVAL_SECONDS)


def due_filter(now):
    own_interval_over = LessThanOrEqual(
        ExpressionWrapper(F("last_mailed_at") + F("mail_interval"), output_field=DateTimeField()),
        now,
    )
    return Q(pending_failures__gt=0) & (
        Q(last_mailed_at__isnull=True)
        | Q(mail_interval__isnull=True, last_mailed_at__lte=now - interval())
        | Q(own_interval_over, mail_interval__isnull=False)
    )


def send_due_alerts(now=None):
    """Mail every source that failed since its last mail, if that mail is an interval old."""
    now = now or timezone.now()
    sent = 0
    due_ids = AlertState.objects.filter(due_filter(now)).values_list("pk", flat=True)
    for state_id in list(due_ids[:SWEEP_BATCH]):
        try:
            sent += send_alert(state_id, now)
        except Exception:
            # A mail server error: the failures stay pending and the next sweep tries again.
            logger.exception("Could not send alert mail %s", state_id)
    return sent


@transaction.atomic
def send_alert(state_id, now):
    """Mail one due source; returns 1 when a mail went out, 0 when not (taken, no address)."""
    state = (
        AlertState.objects.select_for_update(skip_locked=True)
        .select_related("project")
        .filter(due_filter(now), pk=state_id)
        .first()
    )
    if state is None:
        return 0  # another sender took it, or it is no longer due
    recipients = state.recipients or (
        [state.project.alert_email] if state.project.alert_email else []
    )
    if not recipients:
        return 0  # kept pending: mailed once someone sets an address
    count = state.pending_failures
    subject, body = alert_message(state, count)
    send_mail(subject, body, None, recipients)
    AlertState.objects.filter(pk=state.pk).update(
        pending_failures=F("pending_failures") - count,
        last_mailed_at=now,
        mails_sent=F("mails_sent") + 1,
    )
    return 1


def alert_message(state, count):
    times = "once" if count == 1 else f"{count} times"
    what = f"{state.label} {times}" if state.subject else f"{state.label} failed {times}"
    subject = state.subject or f"[Picky] {what}"
    since = (
        f" since the last alert ({state.last_mailed_at:%Y-%m-%d %H:%M} UTC)"
        if state.last_mailed_at
        else ""
    )
    lines = [
        f"{what}{since} in project {state.project.name}.",
        "",
        f"Latest error ({state.latest_failure_at:%Y-%m-%d %H:%M:%S} UTC):",
        state.latest_error,
        "",
    ]
    if state.link:
        lines += [f"Details: {state.link}", ""]
    lines.append(
        f"You get at most one alert every {every(interval(state))} for this; "
        '"Reset Mail Timeout" on it in the admin lets the next failure be mailed at once.'
    )
    return subject, "\n".join(lines)


def every(duration):
    minutes = duration.total_seconds() / 60
    if minutes < 60:
        return counted(minutes, "minute")
    return counted(minutes / 60, "hour")
