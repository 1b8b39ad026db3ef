"""The single inbound path: every channel's messages, edits and statuses enter here."""
