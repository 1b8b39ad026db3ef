"""WhatsApp Cloud API channel: webhooks, channel preparation, templates, the 24-hour window."""
