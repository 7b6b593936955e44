"""RabbitMQ for the ``queue: rabbitmq`` variants: the one server a machine must bring.

The baked projects' tests talk to ``BROKER_URL`` (default:
amqp://guest:guest@127.0.0.1:5672/) and declare a vhost of their own (through
``rabbitmqctl`` where it reaches the server). No embedded build of RabbitMQ is
on PyPI, so the harness never starts one: when nothing listens on the port,
those variants fail at once, saying how to install and start it.
"""

from __future__ import annotations

from servers.background import BackgroundServer, configured_port

PORT_VARIABLE = "TEMPLATE_RABBITMQ_PORT"
STANDARD_PORT = 5672

SERVER = BackgroundServer(
    name="RabbitMQ",
    port=configured_port(PORT_VARIABLE, STANDARD_PORT),
    standard_port=STANDARD_PORT,
    command=None,
    hint=(
        "the harness cannot start RabbitMQ: install it (Debian: `apt-get install "
        "rabbitmq-server`; macOS: `brew install rabbitmq`) and start it "
        "(`rabbitmq-server -detached`) with its guest user, "
        "or name the port of a running one in TEMPLATE_RABBITMQ_PORT"
    ),
)
