"""Automation rules (trigger, conditions, actions, run on the stored domain events) and
macros (saved action lists an operator runs on a conversation); one action executor."""
