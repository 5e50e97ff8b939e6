"""Collection: fetch every enabled source, parse it, date and score its items, store the facts."""
