"""VK community messages: Callback API webhook, Bots Long Poll, the channel plugin."""
