"""chatcentre: omnichannel chat-centre backend."""
