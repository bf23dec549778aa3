"""Dashboards for marketers and the fraud team: server-rendered pages filled from the JSON API."""
