"""fastmango.management."""
