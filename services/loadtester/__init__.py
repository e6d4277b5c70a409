"""The loadtester service."""
