"""/teambox/: the agents' pages (picky/urls.py mounts them, namespace "teambox_pages")."""

from django.urls import path

from . import (
    accounts,
    chat_actions,
    contact_panel,
    conversation,
    inbox,
    live,
    media,
    notifications,
    presence,
    records,
)

app_name = "teambox_pages"

urlpatterns = [
    path("", inbox.home, name="home"),
    # Before the project pages: a project slugged "login" or "logout" would be shadowed.
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("<slug:slug>/", inbox.inbox, name="inbox"),
    path("<slug:slug>/c/<int:pk>/", conversation.conversation, name="conversation"),
    path("<slug:slug>/media/<int:pk>/", media.media, name="media"),
    path("<slug:slug>/live/", live.live, name="live"),
    path("<slug:slug>/presence/", presence.set_presence, name="presence"),
    path("<slug:slug>/notifications/clear/", notifications.clear_all, name="notifications_clear"),
    path(
        "<slug:slug>/notifications/<int:pk>/read/",
        notifications.mark_read,
        name="notification_read",
    ),
    path("<slug:slug>/c/<int:pk>/reply/", chat_actions.reply, name="reply"),
    path("<slug:slug>/c/<int:pk>/note/", chat_actions.note, name="note"),
    path("<slug:slug>/c/<int:pk>/assign/", chat_actions.assign, name="assign"),
    path("<slug:slug>/c/<int:pk>/status/", chat_actions.status, name="status"),
    path("<slug:slug>/c/<int:pk>/kick/", chat_actions.kick, name="kick"),
    path("<slug:slug>/c/<int:pk>/lock/", chat_actions.lock, name="lock"),
    path("<slug:slug>/c/<int:pk>/tags/add/", contact_panel.add_tags, name="add_tags"),
    path("<slug:slug>/c/<int:pk>/tags/remove/", contact_panel.remove_tag, name="remove_tag"),
    path("<slug:slug>/c/<int:pk>/contact-note/", contact_panel.add_note, name="contact_note"),
    path("<slug:slug>/c/<int:pk>/reminder/", contact_panel.add_reminder, name="reminder"),
    path("<slug:slug>/records/<int:pk>/", records.record, name="record"),
    path("<slug:slug>/records/<int:pk>/macro/<int:button_pk>/", records.macro, name="record_macro"),
]
