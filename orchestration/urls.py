from django.urls import path

from orchestration import views

app_name = "orchestration"

urlpatterns = [
    path("schema.json", views.definition_schema, name="definition-schema"),
]
