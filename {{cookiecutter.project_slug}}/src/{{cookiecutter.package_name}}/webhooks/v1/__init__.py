"""Modules generated from the ``webhooks.v1`` protos (``webhooks_pb2``, ``webhooks_pb2_grpc``)."""
