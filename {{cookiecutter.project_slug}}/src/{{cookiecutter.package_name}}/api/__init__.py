"""The transport the service speaks."""
