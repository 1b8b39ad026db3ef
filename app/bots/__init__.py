"""Agent bots: an integration that answers a channel's new conversations first (status
`bot`), hears them through its own signed webhook endpoint, answers with its token and hands
the conversation to the people (routing) when it is done."""
