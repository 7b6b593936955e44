"""Webhooks: signing, the destinations this service may call, delivery and inbound verification."""
