"""gRPC with grpc.aio: the orders service, health, reflection and an HTTP side port."""
