"""Email: a mailbox read over IMAP (imap.py), replies sent over SMTP (smtp.py, connector.py),
and RFC 822 bytes turned into the neutral types (parse.py).

Libraries, all pinned in pyproject.toml:
- aioimaplib: the asyncio IMAP4rev1 client with IDLE; we add STARTTLS on top (imap.py).
  Its licence is GPL-3.0-only (the others here are MIT or Apache-2.0): whoever ships
  chatcentre must be fine with that, or swap the one module that imports it (imap.py).
- aiosmtplib: the asyncio SMTP client (STARTTLS, implicit TLS, AUTH) with typed errors
  carrying the server's reply code, which is what tells a retry from a failure.
- the standard `email` package with policy.default: MIME, RFC 2047 words, RFC 2231
  parameters, quoted-printable and base64; malformed input becomes `defects`, not errors.
- mail-parser-reply: cuts quoted history and signatures from the new text (quotes.py).
- nh3 (the Ammonia sanitiser, Rust): HTML we keep for display is sanitised (html.py).
- inscriptis: HTML to text that keeps the layout (paragraphs, lists, tables) of HTML-only
  mail, on lxml's forgiving parser (html.py). It brings lxml and requests along.
Tests only: aiosmtpd (the SMTP server the send tests talk to) and Debian's Dovecot."""
