"""fastmango."""
