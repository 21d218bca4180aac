"""fastmango.web."""
