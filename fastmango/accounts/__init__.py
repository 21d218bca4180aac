"""fastmango.accounts."""
