"""relapse package."""
