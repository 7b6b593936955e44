"""The ``{{ cookiecutter.package_name }}.orders.v1`` proto package (``orders_pb2``, ``orders_pb2_grpc``)."""
