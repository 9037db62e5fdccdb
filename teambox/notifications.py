"""Instant notifications to agents: stored per agent, unread until read or cleared."""

from django.utils import timezone

from .models import Notification

TITLE_LENGTH = Notification._meta.get_field("title").max_length
RECORD_ID_LENGTH = Notification._meta.get_field("record_id").max_length


def notify_agents(
    project,
    users,
    title,
    description="",
    *,
    browser=False,
    contact=None,
    record_id="",
    macro_button=None,
):
    """One unread notification per user (each once); returns them. A title longer than
    the column is cut with an ellipsis rather than refused: it is often a rendered
    template. `macro_button` (with `record_id`): the notification opens that button's
    form on the record."""
    title = shorten(str(title or "").strip(), TITLE_LENGTH)
    record_id = str(record_id or "").strip()
    if len(record_id) > RECORD_ID_LENGTH:
        raise ValueError(
            f"The record id is {len(record_id)} characters long; at most "
            f"{RECORD_ID_LENGTH} are kept."
        )
    seen, notifications = set(), []
    for user in users:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        notifications.append(
            Notification(
                project=project,
                user=user,
                title=title,
                description=str(description or ""),
                browser=browser,
                contact=contact,
                record_id=record_id,
                macro_button=macro_button,
            )
        )
    return Notification.objects.bulk_create(notifications)


def shorten(text, length):
    return text if len(text) <= length else text[: length - 1] + "…"


def unread_notifications(user, project):
    return Notification.objects.filter(user=user, project=project, read_at__isnull=True)


def mark_notification_read(notification, user):
    """Mark one of `user`'s notifications read; returns whether it was theirs and unread."""
    now = timezone.now()
    read = Notification.objects.filter(pk=notification.pk, user=user, read_at__isnull=True).update(
        read_at=now
    )
    if read:
        notification.read_at = now
    return bool(read)


def clear_notifications(user, project):
    """Mark all of `user`'s notifications in `project` read; returns how many."""
    return unread_notifications(user, project).update(read_at=timezone.now())


def mark_read_for(user, notifications):
    """Mark read the ones of `notifications` (a queryset) that are `user`'s; how many."""
    return notifications.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
