"""``Date.*`` and ``DateRange.*`` algorithms and Joda-Time date patterns."""
