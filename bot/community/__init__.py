"""Help, the home view, and the organizers' settings, report, nudge log and alerts."""
