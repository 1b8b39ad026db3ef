"""Business hours per team (time zone, weekly schedule, holidays), business time for the
response targets, and the automatic replies it drives: out-of-office and greetings."""
