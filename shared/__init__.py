"""The runtime library every Challenger service uses."""
