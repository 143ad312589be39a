"""`make status`: the fleet as a table (or JSON), live from the hub or from the stack's last outputs."""
