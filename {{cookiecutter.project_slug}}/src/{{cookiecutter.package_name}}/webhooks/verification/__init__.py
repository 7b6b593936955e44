"""Inbound webhooks: how a message is proven to come from its sender, one scheme per module."""
