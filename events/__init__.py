"""The shared events app: what every service uses to talk to the others through Kafka.

It holds the topic registry and the Kafka glue; it never imports a service app.
"""
