"""Apps as data (issue 13): definition files, their schema and templates; the planner is ``solutions/app.py``."""
