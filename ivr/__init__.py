"""What the caller hears: TwiML builders and spoken wording, free of Flask and of storage."""
