"""Logging in to the teambox pages: agents are project members, not necessarily staff, so
they cannot use the admin's login page (it admits staff only)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

LOGIN_URL = "teambox_pages:login"


class LoginView(auth_views.LoginView):
    template_name = "teambox/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("teambox_pages:home")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("teambox_pages:login")
