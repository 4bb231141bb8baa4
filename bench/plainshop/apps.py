from django.apps import AppConfig


class PlainShopConfig(AppConfig):
    name = "bench.plainshop"
    label = "plainshop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
