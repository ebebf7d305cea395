"""After a session: "Did it happen?", thanks, ratings, follow-ups and the member's wishes."""
