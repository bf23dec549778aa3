"""Routes of this wing (filled in by its issue)."""

routes: list = []
