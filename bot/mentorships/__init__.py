"""The mentorship itself, after an accepted intro: goals, rhythm, check-ins, the record of
growth, feedback, giving back, pausing and ending well."""
