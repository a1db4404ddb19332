"""Shells that write gabaguide's answers in other formats (calendars, ...); they call the core and
render, and never re-implement a rule."""
