"""The project's admin: its ModelAdmin classes (views.py), registered with @admin.register."""
