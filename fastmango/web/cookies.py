"""The session cookie's name: the accounts app sets it, CSRF and the admin read it."""

SESSION_COOKIE = "fastmango_session"
