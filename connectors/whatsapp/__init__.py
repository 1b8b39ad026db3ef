"""WhatsApp Cloud API: webhook signature, webhook parsing, sends and media downloads."""
