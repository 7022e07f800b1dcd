from django.test import override_settings

from events import kafka


def test_every_client_authenticates_as_the_services_principal():
    with override_settings(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_USERNAME="orders",
        KAFKA_PASSWORD="s3cret",
    ):
        config = kafka.client_config(**{"group.id": "g"})

    assert config["security.protocol"] == "SASL_SSL"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512",
        "orders",
        "s3cret",
    )
    assert config["group.id"] == "g"


def test_a_protocol_without_sasl_sends_no_credentials():
    with override_settings(KAFKA_SECURITY_PROTOCOL="SSL"):
        config = kafka.client_config()

    assert config["security.protocol"] == "SSL"
    assert not any(name.startswith("sasl.") for name in config)
