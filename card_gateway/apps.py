from django.apps import AppConfig


class CardGatewayConfig(AppConfig):
    name = "card_gateway"
    verbose_name = "Card gateway simulator"
