from django.urls import path

from tasks_ui import views
from tasks_ui.email_decision import decide_from_email

app_name = "tasks_ui"

urlpatterns = [
    path("", views.home, name="home"),
    path("decide/<str:token>/", decide_from_email, name="decide-from-email"),
]
