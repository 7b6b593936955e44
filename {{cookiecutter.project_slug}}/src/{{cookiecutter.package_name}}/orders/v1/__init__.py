"""Modules generated from the ``orders.v1`` protos (``orders_pb2``, ``orders_pb2_grpc``)."""
